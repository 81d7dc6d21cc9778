const api = require('../../utils/request')
const { run, keyed, bindField } = require('../../utils/page')
const { viewTrip } = require('../../utils/trip')

// The traveler's actions here, each with its reason field; shown from trip.can (the
// backend's allowed_actions).
const REASON_ACTIONS = {
  withdraw: { field: 'withdrawReason', missing: '请填写撤回原因', done: '已撤回申请' },
  cancel: { field: 'cancelReason', missing: '请填写取消原因', done: '行程已取消' },
}

// States in which a vehicle and driver are (or were) on the trip.
const CREWED = ['dispatched', 'in_progress', 'completed', 'confirmed', 'settled']

// The vehicle and driver from the trip's dispatch record: the fleet's active (else last)
// assignment, or the provider's order (ride-hailing and rental report plate and driver).
function crewOf(dispatch) {
  const assignments = (dispatch && dispatch.assignments) || []
  const current = assignments.filter((a) => a.active).pop() || assignments[assignments.length - 1]
  if (current && current.vehicle) {
    return { plate: current.vehicle.plate, driver: (current.driver && current.driver.name) || '',
      phone: (current.driver && current.driver.phone) || '' }
  }
  const order = dispatch && dispatch.provider_order
  if (order && (order.plate || order.driver_name)) {
    return { plate: order.plate || '', driver: order.driver_name || '', phone: order.driver_phone || '' }
  }
  return null
}

Component({
  data: { loading: false, error: '', tripId: '', trip: null, crew: null, cancelReason: '', withdrawReason: '' },
  methods: {
    onField: bindField,

    onLoad(query) {
      this.setData({ tripId: query.id })
      return run(this, () => this.load())
    },

    async load() {
      const trip = viewTrip(await api.get(`/trips/${this.data.tripId}`))
      const crew = CREWED.indexOf(trip.state) >= 0
        ? crewOf(await api.get(`/trips/${this.data.tripId}/dispatch`)) : null
      this.setData({ trip, crew })
    },

    onCallDriver() {
      if (this.data.crew && this.data.crew.phone) wx.makePhoneCall({ phoneNumber: this.data.crew.phone })
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

    // The locked price expired before booking and the provider's new one is beyond the
    // policy's tolerance: the traveler accepts it (or cancels the trip).
    onAcceptPrice() {
      return run(this, async () => {
        await keyed(this, 'accept_price', (key) => api.post(`/trips/${this.data.tripId}/accept-price`, {}, key))
        wx.showToast({ title: '已接受新价格', icon: 'success' })
        await this.load()
      })
    },

    onQuote() {
      wx.navigateTo({ url: `/pages/trip/offers?trip_id=${this.data.tripId}` })
    },

    onCharge() {
      wx.navigateTo({ url: `/pages/trip/charge?id=${this.data.tripId}` })
    },
  },
})
