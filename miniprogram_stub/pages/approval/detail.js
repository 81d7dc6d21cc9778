// The page a subscription message opens: pages/approval/detail?task_id=<id>.
const api = require('../../utils/request')
const { run, keyed, bindField } = require('../../utils/page')
const { allowed } = require('../../utils/actions')
const { taskStateLabel } = require('../../utils/labels')
const { viewTrip } = require('../../utils/trip')

// Approve and reject are offered as the task's allowed_actions say.
function viewTask(t) {
  return Object.assign({}, t, { can: allowed(t), stateLabel: taskStateLabel(t.state) })
}

Component({
  data: { loading: false, error: '', taskId: '', task: null, trip: null, done: false, comment: '', reason: '' },
  methods: {
    onField: bindField,

    onLoad(query) {
      this.setData({ taskId: query.task_id })
      return run(this, () => this.load())
    },

    // GET /approvals/{id}: the task with its trip; with neither action left for the
    // caller the page shows the task as done.
    async load() {
      const task = viewTask(await api.get(`/approvals/${this.data.taskId}`))
      const trip = task.trip || await api.get(`/trips/${task.trip_id}`)
      this.setData({ task, trip: viewTrip(trip), done: !task.can.approve && !task.can.reject })
    },

    decide(action, body, doneText) {
      return run(this, async () => {
        await keyed(this, action, (key) => api.post(`/approvals/${this.data.taskId}/${action}`, body, key))
        wx.showToast({ title: doneText, icon: 'success' })
        await this.load()
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
