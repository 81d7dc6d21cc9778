// The message centre (消息中心): every notification, whether or not WeChat delivered it.
// Opening a message marks it read and follows its link; "全部已读" clears the badge.
const api = require('../../utils/request')
const { run } = require('../../utils/page')
const paging = require('../../utils/paging')
const time = require('../../utils/time')

function viewMessage(m) {
  return Object.assign({}, m, { atText: time.display(m.created_at), lines: (m.body || '').split('\n') })
}

Component({
  behaviors: [paging],
  data: { unreadCount: 0 },
  methods: {
    pageSource() { return { path: '/me/messages', view: viewMessage } },
    pageAnswered(res) { this.setData({ unreadCount: res.unread_count || 0 }) },

    onShow() { return this.refresh() },

    onOpen(e) {
      const id = Number(e.currentTarget.dataset.id)
      const index = this.data.items.findIndex((m) => m.id === id)
      const message = this.data.items[index]
      if (!message) return undefined
      return run(this, async () => {
        if (!message.read) {
          const res = await api.post('/me/messages/read', { ids: [message.id] })
          this.setData({ [`items[${index}].read`]: true, unreadCount: res.unread_count })
        }
        if (message.link) wx.navigateTo({ url: `/${message.link}` })
      })
    },

    onReadAll() {
      return run(this, async () => {
        const res = await api.post('/me/messages/read', {})
        this.setData({
          items: this.data.items.map((m) => Object.assign({}, m, { read: true })),
          unreadCount: res.unread_count,
        })
      })
    },
  },
})
