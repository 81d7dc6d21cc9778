// The page a subscription message opens: pages/approval/detail?task_id=<id>.
const api = require('../../utils/request')
const { run, keyed, bindField } = require('../../utils/page')
const { viewTrip } = require('../../utils/trip')

Component({
  data: { loading: false, error: '', taskId: '', task: null, trip: null, done: false, comment: '', reason: '' },
  methods: {
    onField: bindField,

    onLoad(query) {
      this.setData({ taskId: query.task_id })
      return run(this, async () => {
        // GET /approvals/{id}: the task with its trip; a decided task shows as done.
        const task = await api.get(`/approvals/${query.task_id}`)
        const trip = task.trip || await api.get(`/trips/${task.trip_id}`)
        this.setData({ task, trip: viewTrip(trip), done: task.state !== 'pending' })
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
