// 代理审批: the approver names a colleague (by user number) who may decide their tasks
// for a period, sees their delegations and revokes one. The backend checks who may be a
// delegate and answers field errors the page shows.
const api = require('../../utils/request')
const { run, keyed, bindField } = require('../../utils/page')
const paging = require('../../utils/paging')
const time = require('../../utils/time')

function viewDelegation(d) {
  return Object.assign({}, d, {
    rangeText: `${time.display(d.starts_at)} 至 ${time.display(d.ends_at)}`,
    stateText: d.revoked_at ? '已撤销' : (d.active ? '生效中' : '未生效或已结束'),
    revocable: !d.revoked_at,
  })
}

Component({
  behaviors: [paging],
  data: {
    // From now (a delegation named at midnight covers the night) to tomorrow evening.
    form: { delegateId: '', startDate: time.beijingDate(0), startTime: time.beijingTime(),
      endDate: time.beijingDate(1), endTime: '18:00' },
  },
  methods: {
    onField: bindField,
    pageSource() { return { path: '/delegations', view: viewDelegation } },
    onShow() { return this.refresh() },

    onCreate() {
      const f = this.data.form
      const delegateId = Number(String(f.delegateId).trim())
      if (!Number.isInteger(delegateId) || delegateId <= 0) {
        wx.showToast({ title: '请填写被委托人编号', icon: 'none' })
        return undefined
      }
      const body = { delegate_id: delegateId, starts_at: time.toIso(f.startDate, f.startTime),
        ends_at: time.toIso(f.endDate, f.endTime) }
      return run(this, async () => {
        await keyed(this, 'delegate', (key) => api.post('/delegations', body, key))
        wx.showToast({ title: '已设置代理审批', icon: 'success' })
        this.setData({ 'form.delegateId': '' })
        const page = await this.fetchPage(null)
        this.setData({ items: page.items, nextCursor: page.next })
      })
    },

    onRevoke(e) {
      const id = e.currentTarget.dataset.id
      return run(this, async () => {
        await keyed(this, `revoke-${id}`, (key) => api.post(`/delegations/${id}/revoke`, {}, key))
        wx.showToast({ title: '已撤销', icon: 'success' })
        const page = await this.fetchPage(null)
        this.setData({ items: page.items, nextCursor: page.next })
      })
    },
  },
})
