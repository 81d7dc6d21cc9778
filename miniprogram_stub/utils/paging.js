// One paged list for every page that shows one (trips, approval tasks, messages): the
// backend answers {items, next_cursor}; a page declares where and how to show an item
//   behaviors: [paging], data: { pageSource: { path: '/trips', query: {}, view: viewTrip } }
// and gets data.items, data.nextCursor, refresh(), onMore(), pull-down and reach-bottom.
const api = require('./request')
const { run } = require('./page')

const PAGE_SIZE = 20

module.exports = Behavior({
  data: { loading: false, error: '', items: [], nextCursor: null },
  methods: {
    onPullDownRefresh() { return this.refresh().then(() => wx.stopPullDownRefresh()) },
    onReachBottom() { return this.onMore() },

    fetchPage(cursor) {
      const source = this.pageSource()
      const query = Object.assign({ limit: PAGE_SIZE }, source.query || {})
      if (cursor) query.cursor = cursor
      return api.get(source.path, query).then((res) => {
        this.pageAnswered(res)
        return { items: (res.items || []).map(source.view || ((x) => x)), next: res.next_cursor || null }
      })
    },

    // A page may look at the whole answer (e.g. the unread count next to the items).
    pageAnswered() {},

    refresh() {
      return run(this, async () => {
        const page = await this.fetchPage(null)
        this.setData({ items: page.items, nextCursor: page.next })
      })
    },

    onMore() {
      if (!this.data.nextCursor || this.data.loading) return undefined
      return run(this, async () => {
        const page = await this.fetchPage(this.data.nextCursor)
        this.setData({ items: this.data.items.concat(page.items), nextCursor: page.next })
      })
    },
  },
})
