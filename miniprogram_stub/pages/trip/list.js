const api = require('../../utils/request')
const { run } = require('../../utils/page')
const { viewTrip } = require('../../utils/trip')

const PAGE_SIZE = 20

Component({
  data: { loading: false, error: '', trips: [], nextCursor: null },
  methods: {
    onShow() { return this.refresh() },
    onPullDownRefresh() { return this.refresh().then(() => wx.stopPullDownRefresh()) },
    onReachBottom() { return this.onMore() },

    refresh() {
      return run(this, async () => {
        const res = await api.get('/trips', { limit: PAGE_SIZE })
        this.setData({ trips: (res.items || []).map(viewTrip), nextCursor: res.next_cursor || null })
      })
    },

    onMore() {
      if (!this.data.nextCursor || this.data.loading) return undefined
      return run(this, async () => {
        const res = await api.get('/trips', { limit: PAGE_SIZE, cursor: this.data.nextCursor })
        this.setData({
          trips: this.data.trips.concat((res.items || []).map(viewTrip)),
          nextCursor: res.next_cursor || null,
        })
      })
    },

    onOpen(e) {
      wx.navigateTo({ url: `/pages/trip/detail?id=${e.currentTarget.dataset.id}` })
    },
    onNew() {
      wx.navigateTo({ url: '/pages/trip/new' })
    },
  },
})
