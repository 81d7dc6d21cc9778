const api = require('../../utils/request')
const { run, keyed, bindField } = require('../../utils/page')
const { viewTrip } = require('../../utils/trip')

// States in which the traveler has nothing left to do; only hides the cancel form.
const FINISHED = ['completed', 'confirmed', 'settled', 'rejected', 'withdrawn', 'cancelled', 'expired']

Component({
  data: { loading: false, error: '', tripId: '', trip: null, canCancel: false, cancelReason: '' },
  methods: {
    onField: bindField,

    onLoad(query) {
      this.setData({ tripId: query.id })
      return this.load()
    },

    load() {
      return run(this, async () => {
        const trip = viewTrip(await api.get(`/trips/${this.data.tripId}`))
        this.setData({ trip, canCancel: FINISHED.indexOf(trip.state) < 0 })
      })
    },

    onCancel() {
      if (!this.data.cancelReason.trim()) {
        wx.showToast({ title: '请填写取消原因', icon: 'none' })
        return undefined
      }
      return run(this, async () => {
        await keyed(this, 'cancel', (key) =>
          api.post(`/trips/${this.data.tripId}/cancel`, { reason: this.data.cancelReason.trim() }, key))
        wx.showToast({ title: '行程已取消', icon: 'success' })
        const trip = viewTrip(await api.get(`/trips/${this.data.tripId}`))
        this.setData({ trip, canCancel: FINISHED.indexOf(trip.state) < 0, cancelReason: '' })
      })
    },

    onCharge() {
      wx.navigateTo({ url: `/pages/trip/charge?id=${this.data.tripId}` })
    },
  },
})
