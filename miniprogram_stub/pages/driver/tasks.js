const api = require('../../utils/request')
const { run, keyed, bindField } = require('../../utils/page')
const subscribe = require('../../utils/subscribe')
const { viewTrip } = require('../../utils/trip')

function emptyFinish() {
  return { odometer_km: '', tolls: '', parking: '', lodging: '', waiting_minutes: '' }
}

// A task is the driver's assignment with its trip as .trip (a bare trip works too); the
// start and finish forms follow the trip's allowed_actions (`can.start`, `can.finish`).
function viewTask(t) {
  const trip = t.trip || t
  return Object.assign(viewTrip(trip), { tripId: t.trip_id || trip.id })
}

// Money and odometer readings go out as the typed strings; the backend parses them as decimals.
function decimal(value) {
  return String(value || '').trim()
}

function money(value) {
  return decimal(value) || '0.00'
}

Component({
  data: { loading: false, error: '', tasks: [], selected: -1, task: null, startKm: '', finish: emptyFinish() },
  methods: {
    onField: bindField,
    onLoad() { return subscribe.prefetch() },
    onShow() { return this.refresh() },
    onPullDownRefresh() { return this.refresh().then(() => wx.stopPullDownRefresh()) },

    refresh() {
      return run(this, async () => {
        const res = await api.get('/driver/tasks', { limit: 100 })
        const items = Array.isArray(res) ? res : (res.items || [])
        this.setData({ tasks: items.map(viewTask), selected: -1, task: null })
      })
    },

    onSelect(e) {
      const selected = Number(e.currentTarget.dataset.index)
      this.setData({ selected, task: this.data.tasks[selected], startKm: '', finish: emptyFinish() })
      // The driver's tap on a task: ask to be told of new, changed and cancelled tasks.
      this._pending = subscribe.ask('driver_tasks')
    },

    tripId() { return this.data.task.tripId },

    onStart() {
      const odometer = decimal(this.data.startKm)
      if (!odometer) {
        wx.showToast({ title: '请填写起始里程', icon: 'none' })
        return undefined
      }
      return run(this, async () => {
        await keyed(this, 'start', (key) =>
          api.post(`/trips/${this.tripId()}/start`, { odometer_km: odometer }, key))
        wx.showToast({ title: '已开始行程', icon: 'success' })
        await this.refresh()
      })
    },

    onFinish() {
      const f = this.data.finish
      if (!decimal(f.odometer_km)) {
        wx.showToast({ title: '请填写结束里程', icon: 'none' })
        return undefined
      }
      const body = {
        odometer_km: decimal(f.odometer_km),
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
