const paging = require('../../utils/paging')
const subscribe = require('../../utils/subscribe')
const { viewTrip } = require('../../utils/trip')

// The inbox item is an approval task; a backend that embeds the trip gets it shown.
function viewTask(t) {
  return Object.assign({}, t, { trip: t.trip ? viewTrip(t.trip) : null })
}

Component({
  behaviors: [paging],
  methods: {
    pageSource() { return { path: '/approvals', query: { state: 'pending' }, view: viewTask } },
    onLoad() { return subscribe.prefetch() },
    onShow() { return this.refresh() },

    // Opening a task is the approver's tap: ask for the next task messages then.
    onOpen(e) {
      this._pending = subscribe.ask('approval_inbox')
      wx.navigateTo({ url: `/pages/approval/detail?task_id=${e.currentTarget.dataset.id}` })
    },
    onDelegations() {
      wx.navigateTo({ url: '/pages/approval/delegation' })
    },
  },
})
