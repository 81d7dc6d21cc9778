const api = require('../../utils/request')
const { run, keyed, bindField } = require('../../utils/page')
const { PURPOSES, VEHICLE_CLASSES } = require('../../utils/labels')
const time = require('../../utils/time')

function emptyStop() { return { name: '', lat: '', lng: '' } }

function toNumber(value) {
  const n = Number(String(value).trim())
  return String(value).trim() === '' || Number.isNaN(n) ? null : n
}

Component({
  data: {
    loading: false,
    error: '',
    purposeLabels: PURPOSES.map((p) => p.label),
    vehicleLabels: VEHICLE_CLASSES.map((v) => v.label),
    form: {
      stops: [emptyStop(), emptyStop()],
      departDate: time.beijingDate(1),
      departTime: '09:00',
      returnDate: time.beijingDate(1),
      returnTime: '12:00',
      passengers: [{ name: '' }],
      purposeIndex: 0,
      purposeText: '',
      vehicleIndex: 0,
    },
  },
  methods: {
    onField: bindField,

    onAddStop() {
      // New stops go before the destination, which stays last.
      const stops = this.data.form.stops.slice()
      stops.splice(stops.length - 1, 0, emptyStop())
      this.setData({ 'form.stops': stops })
    },
    onRemoveStop(e) {
      const stops = this.data.form.stops.slice()
      stops.splice(Number(e.currentTarget.dataset.index), 1)
      this.setData({ 'form.stops': stops })
    },
    onChooseLocation(e) {
      const index = Number(e.currentTarget.dataset.index)
      wx.chooseLocation({
        success: (res) => this.setData({
          [`form.stops[${index}]`]: { name: res.name || res.address, lat: String(res.latitude), lng: String(res.longitude) },
        }),
      })
    },
    onAddPassenger() {
      this.setData({ 'form.passengers': this.data.form.passengers.concat([{ name: '' }]) })
    },
    onRemovePassenger(e) {
      const passengers = this.data.form.passengers.slice()
      passengers.splice(Number(e.currentTarget.dataset.index), 1)
      this.setData({ 'form.passengers': passengers })
    },

    // Shapes the form into the contract's trip body; the backend validates it.
    tripBody() {
      const f = this.data.form
      return {
        purpose: { category: PURPOSES[Number(f.purposeIndex)].value, text: f.purposeText.trim() },
        passengers: f.passengers.filter((p) => p.name.trim()).map((p) => ({ name: p.name.trim() })),
        stops: f.stops.map((s) => ({ name: s.name.trim(), lat: toNumber(s.lat), lng: toNumber(s.lng) })),
        depart_at: time.toIso(f.departDate, f.departTime),
        return_at: time.toIso(f.returnDate, f.returnTime),
        vehicle_class: VEHICLE_CLASSES[Number(f.vehicleIndex)].value,
      }
    },

    onSubmit() {
      return run(this, async () => {
        const trip = await keyed(this, 'create', (key) => api.post('/trips', this.tripBody(), key))
        wx.navigateTo({ url: `/pages/trip/offers?trip_id=${trip.id}` })
      })
    },
  },
})
