const api = require('../../utils/request')
const { run, keyed, bindField } = require('../../utils/page')
const { viewTrip } = require('../../utils/trip')

// The traveler's actions here, each with its reason field; shown from trip.can (the
// backend's allowed_actions).
const REASON_ACTIONS = {
  withdraw: { field: 'withdrawReason', missing: '请填写撤回原因', done: '已撤回申请' },
  cancel: { field: 'cancelReason', missing: '请填写取消原因', done: '行程已取消' },
}

Component({
  data: { loading: false, error: '', tripId: '', trip: null, cancelReason: '', withdrawReason: '' },
  methods: {
    onField: bindField,

    onLoad(query) {
      this.setData({ tripId: query.id })
      return run(this, () => this.load())
    },

    async load() {
      this.setData({ trip: viewTrip(await api.get(`/trips/${this.data.tripId}`)) })
    },

    withReason(action) {
      const { field, missing, done } = REASON_ACTIONS[action]
      const reason = this.data[field].trim()
      if (!reason) {
        wx.showToast({ title: missing, icon: 'none' })
        return undefined
      }
      return run(this, async () => {
        await keyed(this, action, (key) => api.post(`/trips/${this.data.tripId}/${action}`, { reason }, key))
        wx.showToast({ title: done, icon: 'success' })
        this.setData({ [field]: '' })
        await this.load()
      })
    },

    onWithdraw() { return this.withReason('withdraw') },
    onCancel() { return this.withReason('cancel') },

    onQuote() {
      wx.navigateTo({ url: `/pages/trip/offers?trip_id=${this.data.tripId}` })
    },

    onCharge() {
      wx.navigateTo({ url: `/pages/trip/charge?id=${this.data.tripId}` })
    },
  },
})
