const paging = require('../../utils/paging')
const { viewTrip } = require('../../utils/trip')

Component({
  behaviors: [paging],
  methods: {
    pageSource() { return { path: '/trips', view: viewTrip } },
    onShow() { return this.refresh() },

    onOpen(e) {
      wx.navigateTo({ url: `/pages/trip/detail?id=${e.currentTarget.dataset.id}` })
    },
    onNew() {
      wx.navigateTo({ url: '/pages/trip/new' })
    },
  },
})
