const api = require('../../utils/request')
const { run, keyed } = require('../../utils/page')
const { CHANNELS, PROVIDER_STATUSES, VEHICLE_CLASS_NAMES } = require('../../utils/labels')
const subscribe = require('../../utils/subscribe')
const time = require('../../utils/time')

function reasonText(r) {
  return typeof r === 'string' ? r : (r && (r.message || r.code)) || ''
}

// Adds display strings; price stays the backend's string, never parsed.
function viewOffer(o) {
  return Object.assign({}, o, {
    channelLabel: CHANNELS[o.channel] || o.channel,
    classLabel: VEHICLE_CLASS_NAMES[o.vehicle_class] || o.vehicle_class || '',
    reasonsText: (o.reasons || []).map(reasonText).filter(Boolean).join('；'),
    expiresText: time.display(o.expires_at),
  })
}

function viewProvider(p) {
  const hasLatency = p.latency_ms !== undefined && p.latency_ms !== null
  return Object.assign({}, p, {
    statusLabel: PROVIDER_STATUSES[p.status] || p.status,
    latencyText: hasLatency ? `（${p.latency_ms} ms）` : '',
  })
}

Component({
  data: { loading: false, error: '', tripId: '', offers: [], providers: [], selectedId: '' },
  methods: {
    onLoad(query) {
      this.setData({ tripId: query.trip_id })
      return Promise.all([subscribe.prefetch(), this.onQuote()])
    },

    onQuote() {
      return run(this, async () => {
        const res = await keyed(this, 'quote', (key) => api.post(`/trips/${this.data.tripId}/quotes`, {}, key))
        const offers = (res.offers || []).map(viewOffer)
        const recommended = offers.find((o) => o.recommended)
        this.setData({
          offers,
          providers: (res.providers || []).map(viewProvider),
          selectedId: recommended ? recommended.id : '',
        })
        if (!offers.length) wx.showToast({ title: '暂无可用方案，请调整行程后重试', icon: 'none' })
      })
    },

    onSelect(e) {
      this.setData({ selectedId: e.currentTarget.dataset.id })
    },

    onSubmit() {
      if (!this.data.selectedId) {
        wx.showToast({ title: '请先选择一个方案', icon: 'none' })
        return undefined
      }
      // The tap that submits is the moment to ask for the messages that will follow
      // (approved or rejected, vehicle assigned, please confirm).
      const asked = subscribe.ask('submit_trip')
      return run(this, async () => {
        await asked
        await keyed(this, 'submit', (key) =>
          api.post(`/trips/${this.data.tripId}/submit`, { offer_id: this.data.selectedId }, key))
        wx.showToast({ title: '已提交审批', icon: 'success' })
        wx.redirectTo({ url: `/pages/trip/detail?id=${this.data.tripId}` })
      })
    },
  },
})
