const api = require('../../utils/request')
const { run } = require('../../utils/page')

const ENTRIES = [
  { id: 'new-trip', label: '申请用车', url: '/pages/trip/new', roles: ['traveler'] },
  { id: 'my-trips', label: '我的行程', url: '/pages/trip/list', roles: ['traveler'] },
  { id: 'approvals', label: '审批待办', url: '/pages/approval/inbox', roles: ['approver', 'platform_approver'] },
  { id: 'driver-tasks', label: '司机任务', url: '/pages/driver/tasks', roles: ['driver'] },
  { id: 'messages', label: '消息中心', url: '/pages/messages/index', roles: null },
]

// The unread count for the message centre's badge; a failure leaves the badge off.
function unreadCount() {
  return api.get('/me/messages/unread').then((res) => res.unread_count || 0).catch(() => 0)
}

function roleNames(me) {
  const roles = (me && (me.roles || (me.user && me.user.roles))) || []
  return roles.map((r) => (typeof r === 'string' ? r : r.name || r.code))
}

Component({
  data: { loading: false, error: '', userName: '', unitName: '', entries: [], hasFeatures: true, unreadCount: 0 },
  methods: {
    onShow() {
      return run(this, async () => {
        const me = await api.get('/me')
        const roles = roleNames(me)
        const user = me.user || me
        const entries = ENTRIES.filter((e) => !e.roles || e.roles.some((r) => roles.indexOf(r) >= 0))
        this.setData({
          userName: user.name || '',
          unitName: (me.unit && me.unit.name) || '',
          entries,
          hasFeatures: entries.some((e) => e.roles),
          unreadCount: await unreadCount(),
        })
      })
    },
    onOpen(e) {
      wx.navigateTo({ url: e.currentTarget.dataset.url })
    },
    onLogout() {
      api.logout()
      wx.reLaunch({ url: '/pages/login/index' })
    },
  },
})
