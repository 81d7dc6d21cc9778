// utils/request.js against a tiny local HTTP server, through the real-HTTP wx bridge.
const test = require('node:test')
const assert = require('node:assert/strict')
const { createBridge } = require('./helpers/wx-bridge')
const { startFakeServer, send } = require('./helpers/fake-server')

const bridge = createBridge()
global.wx = bridge.wx
const config = require('../config')
const api = require('../utils/request')

config.RETRY_DELAY_MS = 5

let server
test.before(async () => { server = await startFakeServer() })
test.after(() => server.close())
test.beforeEach(() => {
  bridge.useUser('unit-user')
  bridge.setBaseUrl(server.baseUrl)
})

const path = (r) => r.url.replace('/api/v1', '')

test('401 re-logins once via wx.login and replays the request with the same key', async () => {
  wx.setStorageSync('auth_token', 'expired-token')
  server.handle((r, res) => {
    if (path(r) === '/auth/wechat-login') {
      assert.deepEqual(r.body, { code: 'sandbox:unit-user' })
      return send(res, 200, { access_token: 'fresh-token', expires_in: 3600, user: { id: 7, name: '张三' } })
    }
    if (r.headers.authorization !== 'Bearer fresh-token') {
      return send(res, 401, { code: 'unauthorized', message: '登录已过期', status: 401, errors: null })
    }
    return send(res, 201, { id: 42, state: 'draft' })
  })

  const trip = await api.post('/trips', { purpose: { category: 'meeting', text: '会议' } }, 'action-1')

  assert.deepEqual(trip, { id: 42, state: 'draft' })
  assert.equal(bridge.state.loginCalls, 1)
  assert.deepEqual(server.received.map((r) => `${r.method} ${path(r)}`),
    ['POST /trips', 'POST /auth/wechat-login', 'POST /trips'])
  const [first, , replay] = server.received
  assert.equal(first.headers.authorization, 'Bearer expired-token')
  assert.equal(replay.headers.authorization, 'Bearer fresh-token')
  assert.equal(first.headers['idempotency-key'], 'action-1')
  assert.equal(replay.headers['idempotency-key'], 'action-1')
  assert.equal(wx.getStorageSync('auth_token'), 'fresh-token')
  assert.deepEqual(wx.getStorageSync('auth_user'), { id: 7, name: '张三' })
})

test('a second 401 after re-login is not retried again', async () => {
  wx.setStorageSync('auth_token', 'expired-token')
  server.handle((r, res) => {
    if (path(r) === '/auth/wechat-login') return send(res, 200, { access_token: 'still-bad', user: {} })
    return send(res, 401, { code: 'unauthorized', message: '登录已失效，请重新登录', status: 401, errors: null })
  })

  await assert.rejects(api.get('/trips'), (err) => {
    assert.equal(err.message, '登录已失效，请重新登录')
    assert.equal(err.status, 401)
    return true
  })
  assert.equal(bridge.state.loginCalls, 1)
  assert.equal(server.received.length, 3)
})

test('a network failure is retried with the same Idempotency-Key', async () => {
  let attempts = 0
  server.handle((r, res, req) => {
    attempts += 1
    if (attempts < 3) return req.socket.destroy()
    return send(res, 200, { ok: true })
  })
  wx.setStorageSync('auth_token', 't')

  const body = await api.post('/trips/9/submit', { offer_id: 'o-1' })

  assert.deepEqual(body, { ok: true })
  const keys = server.received.map((r) => r.headers['idempotency-key'])
  assert.equal(keys.length, 3)
  assert.ok(keys[0] && keys[0].length >= 8, 'a key is generated when the caller passes none')
  assert.deepEqual(new Set(keys).size, 1)
  assert.ok(server.received.every((r) => r.body && r.body.offer_id === 'o-1'))
})

test('network retries are bounded and end in a Chinese network error', async () => {
  server.handle((r, res, req) => req.socket.destroy())
  wx.setStorageSync('auth_token', 't')

  await assert.rejects(api.post('/trips', {}, 'action-2'), (err) => {
    assert.equal(err.code, 'network_error')
    assert.match(err.message, /网络异常/)
    return true
  })
  assert.equal(server.received.length, config.NETWORK_RETRIES + 1)
  assert.ok(server.received.every((r) => r.headers['idempotency-key'] === 'action-2'))
})

test('the same action key is sent again when the user repeats the action', async () => {
  server.handle((r, res) => send(res, 200, { ok: true }))
  wx.setStorageSync('auth_token', 't')
  const key = api.newActionKey()
  await api.post('/trips/1/cancel', { reason: '会议取消' }, key)
  await api.post('/trips/1/cancel', { reason: '会议取消' }, key)
  assert.deepEqual(server.received.map((r) => r.headers['idempotency-key']), [key, key])
  assert.notEqual(api.newActionKey(), key)
})

test('backend error bodies become an Error carrying the Chinese message', async () => {
  server.handle((r, res) => send(res, 422, {
    code: 'validation_error',
    message: '返回时间必须晚于出发时间',
    status: 422,
    errors: { return_at: ['必须晚于出发时间'] },
  }))
  wx.setStorageSync('auth_token', 't')

  await assert.rejects(api.post('/trips', {}), (err) => {
    assert.ok(err instanceof Error)
    assert.equal(err.message, '返回时间必须晚于出发时间')
    assert.equal(err.code, 'validation_error')
    assert.equal(err.status, 422)
    assert.deepEqual(err.errors, { return_at: ['必须晚于出发时间'] })
    return true
  })
  assert.equal(server.received.length, 1, 'business errors are not retried')
})

test('a field error names the first wrong field, nested lists and objects included', async () => {
  server.handle((r, res) => send(res, 422, {
    code: 'validation_error',
    message: '提交的数据不合法',
    status: 422,
    errors: { passengers: { 1: { name: ['应为字符串'] } }, purpose: { _schema: ['应为对象'] } },
  }))
  wx.setStorageSync('auth_token', 't')

  await assert.rejects(api.post('/trips', {}), (err) => {
    assert.equal(err.message, '提交的数据不合法')
    assert.deepEqual(err.field, { path: 'passengers[1].name', message: '应为字符串' })
    return true
  })
  assert.deepEqual(api.firstFieldError({ purpose: { _schema: ['应为对象'] } }),
    { path: 'purpose', message: '应为对象' })
  assert.equal(api.firstFieldError(['JSON 格式错误']), null, 'a body-wide error names no field')
  assert.equal(api.firstFieldError(null), null)
})

test('a non-JSON error still yields a Chinese message', async () => {
  server.handle((r, res) => { res.writeHead(502, { 'content-type': 'text/html' }); res.end('<h1>Bad Gateway</h1>') })
  wx.setStorageSync('auth_token', 't')
  await assert.rejects(api.get('/me'), (err) => {
    assert.equal(err.status, 502)
    assert.match(err.message, /服务暂时不可用/)
    return true
  })
})

test('GET sends the token, no Idempotency-Key, and encodes the query', async () => {
  server.handle((r, res) => send(res, 200, { items: [], next_cursor: null }))
  wx.setStorageSync('auth_token', 'tok')
  await api.get('/approvals', { state: 'pending', limit: 20, cursor: null })
  const [r] = server.received
  assert.equal(r.url, '/api/v1/approvals?state=pending&limit=20')
  assert.equal(r.headers.authorization, 'Bearer tok')
  assert.equal(r.headers['idempotency-key'], undefined)
})

test('an unbound openid rejects with binding_required and the ticket', async () => {
  server.handle((r, res) => send(res, 403, {
    code: 'binding_required', message: '请先绑定手机号', status: 403, errors: null, ticket: 'tkt-1',
  }))
  await assert.rejects(api.login(), (err) => {
    assert.equal(err.code, 'binding_required')
    assert.equal(err.ticket, 'tkt-1')
    assert.equal(err.message, '请先绑定手机号')
    return true
  })
  assert.equal(wx.getStorageSync('auth_token'), '')
})
