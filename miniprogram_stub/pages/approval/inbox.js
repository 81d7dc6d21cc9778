const api = require('../../utils/request')
const { run } = require('../../utils/page')
const { viewTrip } = require('../../utils/trip')

const PAGE_SIZE = 20

// The inbox item is an approval task; a backend that embeds the trip gets it shown.
function viewTask(t) {
  return Object.assign({}, t, { trip: t.trip ? viewTrip(t.trip) : null })
}

Component({
  data: { loading: false, error: '', tasks: [], nextCursor: null },
  methods: {
    onShow() { return this.refresh() },
    onPullDownRefresh() { return this.refresh().then(() => wx.stopPullDownRefresh()) },
    onReachBottom() { return this.onMore() },

    refresh() {
      return run(this, async () => {
        const res = await api.get('/approvals', { state: 'pending', limit: PAGE_SIZE })
        this.setData({ tasks: (res.items || []).map(viewTask), nextCursor: res.next_cursor || null })
      })
    },

    onMore() {
      if (!this.data.nextCursor || this.data.loading) return undefined
      return run(this, async () => {
        const res = await api.get('/approvals', { state: 'pending', limit: PAGE_SIZE, cursor: this.data.nextCursor })
        this.setData({
          tasks: this.data.tasks.concat((res.items || []).map(viewTask)),
          nextCursor: res.next_cursor || null,
        })
      })
    },

    onOpen(e) {
      wx.navigateTo({ url: `/pages/approval/detail?task_id=${e.currentTarget.dataset.id}` })
    },
  },
})
