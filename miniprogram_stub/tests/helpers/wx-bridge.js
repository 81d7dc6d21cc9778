// A `wx` for Node: wx.request performs real HTTP (node:http), wx.login yields the
// WeChat-sandbox code `sandbox:<openid>` of the user the test chose, storage is in
// memory, and toasts and navigations are recorded for assertions.
const http = require('node:http')
const https = require('node:https')

// No keep-alive: a test run must not be held open by idle sockets to a stopped backend.
const agents = { 'http:': new http.Agent({ keepAlive: false }), 'https:': new https.Agent({ keepAlive: false }) }

function createBridge() {
  const state = {
    openid: null,
    storage: new Map(),
    toasts: [],
    navigations: [],
    requests: [],
    loginCalls: 0,
    // wx.requestSubscribeMessage: every call's tmplIds, and what the user taps —
    // 'accept' / 'reject' for all, or {templateId: 'accept'|'reject'} (others rejected).
    subscribeCalls: [],
    subscribeAnswer: 'accept',
    phoneCalls: [],
  }

  function call(opts, name, res) {
    if (name === 'success' && typeof opts.success === 'function') opts.success(res)
    if (name === 'fail' && typeof opts.fail === 'function') opts.fail(res)
    if (typeof opts.complete === 'function') opts.complete(res)
  }

  function parseBody(text) {
    if (text === '') return ''
    try { return JSON.parse(text) } catch (e) { return text }
  }

  const wx = {
    request(opts) {
      const url = new URL(opts.url)
      const method = (opts.method || 'GET').toUpperCase()
      const headers = Object.assign({}, opts.header || {})
      let payload = null
      if (opts.data !== undefined && opts.data !== null && method !== 'GET') {
        payload = typeof opts.data === 'string' ? opts.data : JSON.stringify(opts.data)
        headers['content-length'] = Buffer.byteLength(payload)
      }
      state.requests.push({ method, url: opts.url, header: headers, data: opts.data })
      const lib = url.protocol === 'https:' ? https : http
      const req = lib.request(url, { method, headers, agent: agents[url.protocol], timeout: opts.timeout || 60000 }, (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => call(opts, 'success', {
          statusCode: res.statusCode,
          data: parseBody(Buffer.concat(chunks).toString('utf8')),
          header: res.headers,
          errMsg: 'request:ok',
        }))
        res.on('error', (err) => call(opts, 'fail', { errMsg: `request:fail ${err.message}` }))
      })
      req.on('timeout', () => req.destroy(new Error('timeout')))
      req.on('error', (err) => call(opts, 'fail', { errMsg: `request:fail ${err.message}` }))
      if (payload !== null) req.write(payload)
      req.end()
      return { abort: () => req.destroy(new Error('abort')) }
    },

    login(opts) {
      state.loginCalls += 1
      setImmediate(() => {
        if (!state.openid) call(opts, 'fail', { errMsg: 'login:fail no test user chosen' })
        else call(opts, 'success', { code: `sandbox:${state.openid}`, errMsg: 'login:ok' })
      })
    },

    getStorageSync(key) { return state.storage.has(key) ? state.storage.get(key) : '' },
    setStorageSync(key, value) { state.storage.set(key, value) },
    removeStorageSync(key) { state.storage.delete(key) },
    clearStorageSync() { state.storage.clear() },

    requestSubscribeMessage(opts) {
      state.subscribeCalls.push(opts.tmplIds.slice())
      setImmediate(() => {
        const answer = state.subscribeAnswer
        const res = { errMsg: 'requestSubscribeMessage:ok' }
        for (const id of opts.tmplIds) res[id] = typeof answer === 'string' ? answer : (answer[id] || 'reject')
        call(opts, 'success', res)
      })
    },
    makePhoneCall(opts) { state.phoneCalls.push(opts.phoneNumber); call(opts, 'success', {}) },

    showToast(opts) { state.toasts.push(opts.title); call(opts, 'success', {}) },
    showModal(opts) { state.toasts.push(opts.content || opts.title); call(opts, 'success', { confirm: true }) },
    showLoading() {},
    hideLoading() {},
    stopPullDownRefresh() {},

    navigateTo(opts) { state.navigations.push({ type: 'navigateTo', url: opts.url }); call(opts, 'success', {}) },
    redirectTo(opts) { state.navigations.push({ type: 'redirectTo', url: opts.url }); call(opts, 'success', {}) },
    reLaunch(opts) { state.navigations.push({ type: 'reLaunch', url: opts.url }); call(opts, 'success', {}) },
    switchTab(opts) { state.navigations.push({ type: 'switchTab', url: opts.url }); call(opts, 'success', {}) },
    navigateBack(opts = {}) { state.navigations.push({ type: 'navigateBack', url: null }); call(opts, 'success', {}) },
  }

  return {
    wx,
    state,
    // Becomes another WeChat user on a fresh device: new openid, empty storage except
    // the backend override, cleared records.
    useUser(openid) {
      const base = state.storage.get('api_base_url')
      state.openid = openid
      state.storage.clear()
      if (base) state.storage.set('api_base_url', base)
      state.toasts.length = 0
      state.navigations.length = 0
      state.requests.length = 0
      state.loginCalls = 0
      state.subscribeCalls.length = 0
      state.subscribeAnswer = 'accept'
      state.phoneCalls.length = 0
    },
    setBaseUrl(url) { state.storage.set('api_base_url', url) },
    lastNavigation() { return state.navigations[state.navigations.length - 1] || null },
  }
}

module.exports = { createBridge }
