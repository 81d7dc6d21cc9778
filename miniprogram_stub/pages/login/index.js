const api = require('../../utils/request')
const { run, keyed } = require('../../utils/page')

Component({
  data: { loading: false, error: '', needBind: false, ticket: '' },
  methods: {
    onLogin() {
      return run(this, async () => {
        try {
          await api.login()
        } catch (err) {
          if (err.code !== 'binding_required') throw err
          this.setData({ needBind: true, ticket: err.ticket || '' })
          wx.showToast({ title: '首次使用请绑定手机号', icon: 'none' })
          return
        }
        wx.reLaunch({ url: '/pages/home/index' })
      })
    },

    // open-type="getPhoneNumber" hands us a one-time phone code (not the number itself).
    onGetPhoneNumber(e) {
      const phoneCode = e.detail && e.detail.code
      if (!phoneCode) {
        wx.showToast({ title: '需要授权手机号才能完成绑定', icon: 'none' })
        return undefined
      }
      return run(this, async () => {
        await keyed(this, 'bind', (actionKey) => api.bindPhone({ ticket: this.data.ticket, phoneCode, actionKey }))
        wx.reLaunch({ url: '/pages/home/index' })
      })
    },
  },
})
