const api = require('../../utils/request')
const { run, keyed, bindField } = require('../../utils/page')
const { allowed } = require('../../utils/actions')
const { CHARGE_KINDS } = require('../../utils/labels')

// Amounts are the backend's strings ("515.50"); shown as they arrive.
function viewCharge(c) {
  return Object.assign({}, c, {
    lines: (c.lines || []).map((l) => Object.assign({}, l, { kindLabel: CHARGE_KINDS[l.kind] || l.kind })),
  })
}

Component({
  data: { loading: false, error: '', tripId: '', charge: null, can: {}, disputeReason: '' },
  methods: {
    onField: bindField,

    onLoad(query) {
      this.setData({ tripId: query.id })
      return run(this, () => this.load())
    },

    // The charge, and the trip for what the passenger may do with it (confirm, dispute).
    async load() {
      const [charge, trip] = await Promise.all([
        api.get(`/trips/${this.data.tripId}/charge`),
        api.get(`/trips/${this.data.tripId}`),
      ])
      this.setData({ charge: viewCharge(charge), can: allowed(trip) })
    },

    act(action, body, doneText) {
      return run(this, async () => {
        await keyed(this, action, (key) => api.post(`/trips/${this.data.tripId}/${action}`, body, key))
        wx.showToast({ title: doneText, icon: 'success' })
        this.setData({ disputeReason: '' })
        await this.load()
      })
    },

    onConfirm() { return this.act('confirm', {}, '已确认') },

    onDispute() {
      if (!this.data.disputeReason.trim()) {
        wx.showToast({ title: '请填写异议原因', icon: 'none' })
        return undefined
      }
      return this.act('dispute', { reason: this.data.disputeReason.trim() }, '已提交异议')
    },
  },
})
