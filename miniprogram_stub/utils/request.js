// The one HTTP client of the mini-program: base URL, JWT, silent re-login on 401,
// Idempotency-Key per user action, bounded retry on network failure, and backend
// error bodies {code, message, status, errors} turned into ApiError.
const config = require('../config')

const TOKEN_KEY = 'auth_token'
const USER_KEY = 'auth_user'
const NETWORK_MESSAGE = '网络异常，请检查网络后重试'

// The first field error of an error body's `errors` ({depart_at: ['必填']}, nested for
// lists and objects: {passengers: {1: {name: ['应为字符串']}}}) as {path, message}, the
// path written 'passengers[1].name'; null when the errors name no field.
function firstFieldError(errors, path = '') {
  if (typeof errors === 'string') return path ? { path, message: errors } : null
  if (Array.isArray(errors)) {
    for (const item of errors) {
      const found = firstFieldError(item, path)
      if (found) return found
    }
    return null
  }
  if (!errors || typeof errors !== 'object') return null
  for (const key of Object.keys(errors)) {
    let sub = path ? `${path}.${key}` : key
    if (key === '_schema') sub = path
    else if (/^\d+$/.test(key)) sub = `${path}[${key}]`
    const found = firstFieldError(errors[key], sub)
    if (found) return found
  }
  return null
}

class ApiError extends Error {
  constructor({ message, code, status, errors, body }) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = status
    this.errors = errors || null
    this.field = firstFieldError(errors)
    this.body = body || null
  }
}

function baseUrl() {
  const override = wx.getStorageSync(config.STORAGE_KEY_BASE_URL)
  return String(override || config.DEFAULT_BASE_URL).replace(/\/+$/, '')
}

function getToken() {
  return wx.getStorageSync(TOKEN_KEY) || ''
}

function saveSession(body) {
  const token = body && (body.access_token || body.token)
  if (!token) {
    throw new ApiError({ message: '登录失败：服务器未返回令牌', code: 'no_token', status: 0, body })
  }
  wx.setStorageSync(TOKEN_KEY, token)
  if (body.user) wx.setStorageSync(USER_KEY, body.user)
  return body
}

function logout() {
  wx.removeStorageSync(TOKEN_KEY)
  wx.removeStorageSync(USER_KEY)
}

let keySeq = 0
// Unique per user action; a page keeps it until the action has an answer from the backend,
// so a repeated tap or a retry after a network failure is recognised as the same action.
function newActionKey() {
  keySeq += 1
  const rand = Math.random().toString(36).slice(2, 10)
  return `mp-${Date.now().toString(36)}-${keySeq.toString(36)}-${rand}`
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function queryString(query) {
  if (!query) return ''
  const parts = Object.keys(query)
    .filter((k) => query[k] !== undefined && query[k] !== null && query[k] !== '')
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(query[k])}`)
  return parts.length ? `?${parts.join('&')}` : ''
}

// One wx.request; resolves {statusCode, data} or rejects with a network ApiError.
function rawRequest({ method, url, data, header }) {
  return new Promise((resolve, reject) => {
    wx.request({
      url,
      method,
      data,
      header,
      timeout: config.REQUEST_TIMEOUT_MS,
      dataType: 'json',
      success: (res) => resolve(res),
      fail: (err) => reject(new ApiError({
        message: NETWORK_MESSAGE,
        code: 'network_error',
        status: 0,
        body: { errMsg: err && err.errMsg },
      })),
    })
  })
}

async function sendWithRetry(options) {
  let attempt = 0
  for (;;) {
    try {
      return await rawRequest(options)
    } catch (err) {
      if (err.code !== 'network_error' || attempt >= config.NETWORK_RETRIES) throw err
      attempt += 1
      await sleep(config.RETRY_DELAY_MS * attempt)
    }
  }
}

function errorFromResponse(res) {
  const body = res.data && typeof res.data === 'object' ? res.data : null
  return new ApiError({
    message: (body && body.message) || `服务暂时不可用（${res.statusCode}），请稍后重试`,
    code: (body && body.code) || `http_${res.statusCode}`,
    status: (body && body.status) || res.statusCode,
    errors: body && body.errors,
    body,
  })
}

function isOk(res) {
  return res.statusCode >= 200 && res.statusCode < 300
}

function wxLoginCode() {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (res) => (res && res.code ? resolve(res.code) : reject(new ApiError({
        message: '微信登录失败，请重试', code: 'wx_login_failed', status: 0,
      }))),
      fail: () => reject(new ApiError({ message: '微信登录失败，请重试', code: 'wx_login_failed', status: 0 })),
    })
  })
}

let loginInFlight = null

// wx.login → POST /auth/wechat-login. An unbound openid rejects with code
// 'binding_required' and .ticket for POST /auth/bind. Concurrent callers share one login.
function login() {
  if (!loginInFlight) {
    loginInFlight = (async () => {
      const code = await wxLoginCode()
      const res = await sendWithRetry({
        method: 'POST',
        url: `${baseUrl()}/auth/wechat-login`,
        data: { code },
        header: { 'content-type': 'application/json' },
      })
      if (!isOk(res)) {
        const err = errorFromResponse(res)
        const body = err.body || {}
        err.ticket = body.ticket || (body.errors && body.errors.ticket) || null
        throw err
      }
      return saveSession(res.data)
    })().finally(() => { loginInFlight = null })
  }
  return loginInFlight
}

async function bindPhone({ ticket, phoneCode, actionKey }) {
  const body = await request({
    method: 'POST',
    path: '/auth/bind',
    data: { ticket, phone_code: phoneCode },
    auth: false,
    actionKey,
  })
  return saveSession(body)
}

// request({method, path, query, data, actionKey, auth}) → response body.
// Mutating calls carry an Idempotency-Key: actionKey when the caller has one, else a
// fresh key for this call; retries and the replay after re-login reuse it.
async function request({ method = 'GET', path, query, data, actionKey, auth = true }) {
  const upper = method.toUpperCase()
  const header = { 'content-type': 'application/json' }
  if (upper !== 'GET') header['Idempotency-Key'] = actionKey || newActionKey()
  const url = `${baseUrl()}${path}${queryString(query)}`
  const send = () => {
    if (auth && getToken()) header.Authorization = `Bearer ${getToken()}`
    return sendWithRetry({ method: upper, url, data: upper === 'GET' ? undefined : (data || {}), header })
  }

  let res = await send()
  if (res.statusCode === 401 && auth) {
    logout()
    await login()
    res = await send()
  }
  if (!isOk(res)) throw errorFromResponse(res)
  return res.data
}

module.exports = {
  ApiError,
  firstFieldError,
  request,
  login,
  bindPhone,
  logout,
  newActionKey,
  get: (path, query) => request({ method: 'GET', path, query }),
  post: (path, data, actionKey) => request({ method: 'POST', path, data, actionKey }),
}
