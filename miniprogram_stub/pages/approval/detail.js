// The page a subscription message opens: pages/approval/detail?task_id=<id>.
const api = require('../../utils/request')
const { run, keyed, bindField } = require('../../utils/page')
const { viewTrip } = require('../../utils/trip')

// Pages through the pending inbox (the contract's only task read) to find one task.
async function findPendingTask(taskId) {
  let cursor = null
  for (let pages = 0; pages < 10; pages += 1) {
    const res = await api.get('/approvals', { state: 'pending', limit: 100, cursor })
    const task = (res.items || []).find((t) => String(t.id) === String(taskId))
    if (task || !res.next_cursor) return task || null
    cursor = res.next_cursor
  }
  return null
}

Component({
  data: { loading: false, error: '', taskId: '', task: null, trip: null, done: false, comment: '', reason: '' },
  methods: {
    onField: bindField,

    onLoad(query) {
      this.setData({ taskId: query.task_id })
      return run(this, async () => {
        const task = await findPendingTask(query.task_id)
        if (!task) {
          this.setData({ done: true })
          return
        }
        const trip = task.trip || await api.get(`/trips/${task.trip_id}`)
        this.setData({ task, trip: viewTrip(trip) })
      })
    },

    decide(action, body, doneText) {
      return run(this, async () => {
        await keyed(this, action, (key) => api.post(`/approvals/${this.data.taskId}/${action}`, body, key))
        this.setData({ done: true })
        wx.showToast({ title: doneText, icon: 'success' })
      })
    },

    onApprove() {
      return this.decide('approve', { comment: this.data.comment.trim() }, '已同意')
    },

    onReject() {
      if (!this.data.reason.trim()) {
        wx.showToast({ title: '请填写驳回理由', icon: 'none' })
        return undefined
      }
      return this.decide('reject', { reason: this.data.reason.trim() }, '已驳回')
    },
  },
})
