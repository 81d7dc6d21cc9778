// WeChat allows one subscription message per "allow" the user taps, so the pages ask at
// the moments a message will follow (submitting a trip, opening an approval task, picking
// a driver task) and report what was accepted to POST /me/subscriptions; the backend then
// sends while a grant remains. Everything also lands in the message centre, so a refusal
// or a failure here never stops the user's action.
//
// wx.requestSubscribeMessage only works straight from a tap: the template ids are fetched
// beforehand (prefetch() on the page's load) and ask() calls WeChat synchronously.
const api = require('./request')

let moments = null

function prefetch() {
  if (moments) return Promise.resolve(moments)
  return api.get('/me/subscriptions')
    .then((res) => { moments = res.moments || {}; return moments })
    .catch(() => null)
}

// Resolves to the template ids the user accepted (reported to the backend), [] otherwise.
function ask(moment) {
  const ids = ((moments && moments[moment]) || []).slice(0, 3)
  if (!ids.length || typeof wx.requestSubscribeMessage !== 'function') return Promise.resolve([])
  return new Promise((resolve) => {
    wx.requestSubscribeMessage({
      tmplIds: ids,
      success: (res) => resolve(ids.filter((id) => res[id] === 'accept')),
      fail: () => resolve([]),
    })
  }).then((accepted) => {
    if (!accepted.length) return []
    return api.post('/me/subscriptions', { template_ids: accepted })
      .then(() => accepted)
      .catch(() => [])
  })
}

// For tests and logout: forget the fetched template ids.
function reset() { moments = null }

module.exports = { prefetch, ask, reset }
