const api = require('../../utils/request')
const { run, keyed, bindField } = require('../../utils/page')
const { viewTrip } = require('../../utils/trip')

function emptyFinish() {
  return { odometer_km: '', tolls: '', parking: '', lodging: '', waiting_minutes: '' }
}

// A task is the assigned trip (or wraps it as .trip); either way it names the trip id.
function viewTask(t) {
  const trip = t.trip || t
  return Object.assign(viewTrip(trip), { tripId: t.trip_id || trip.id })
}

// Money fields go out as the typed strings; the backend parses them as decimals.
function money(value) {
  const s = String(value || '').trim()
  return s === '' ? '0.00' : s
}

Component({
  data: { loading: false, error: '', tasks: [], selected: -1, startKm: '', finish: emptyFinish() },
  methods: {
    onField: bindField,
    onShow() { return this.refresh() },
    onPullDownRefresh() { return this.refresh().then(() => wx.stopPullDownRefresh()) },

    refresh() {
      return run(this, async () => {
        const res = await api.get('/driver/tasks', { limit: 100 })
        const items = Array.isArray(res) ? res : (res.items || [])
        this.setData({ tasks: items.map(viewTask), selected: -1 })
      })
    },

    onSelect(e) {
      this.setData({ selected: Number(e.currentTarget.dataset.index), startKm: '', finish: emptyFinish() })
    },

    tripId() { return this.data.tasks[this.data.selected].tripId },

    onStart() {
      return run(this, async () => {
        await keyed(this, 'start', (key) =>
          api.post(`/trips/${this.tripId()}/start`, { odometer_km: Number(this.data.startKm) }, key))
        wx.showToast({ title: '已开始行程', icon: 'success' })
        await this.refresh()
      })
    },

    onFinish() {
      const f = this.data.finish
      const body = {
        odometer_km: Number(f.odometer_km),
        tolls: money(f.tolls),
        parking: money(f.parking),
        lodging: money(f.lodging),
        waiting_minutes: Number(f.waiting_minutes || 0),
      }
      return run(this, async () => {
        await keyed(this, 'finish', (key) => api.post(`/trips/${this.tripId()}/finish`, body, key))
        wx.showToast({ title: '已结束行程', icon: 'success' })
        await this.refresh()
      })
    },
  },
})
