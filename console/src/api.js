// The only way the console talks to the backend: the public /api/v1 with the JWT.
const BASE = '/api/v1'
const KEY = 'otb-console-token'

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `请求失败（${status}）`)
    this.status = status
    this.code = body && body.code
    this.errors = (body && body.errors) || {}
  }
}

export const session = {
  get token() { return sessionStorage.getItem(KEY) },
  set token(value) {
    if (value) sessionStorage.setItem(KEY, value)
    else sessionStorage.removeItem(KEY)
  },
  user: null,
  mustChange: false,
}

let onAuthLost = () => {}
export function whenAuthLost(fn) { onAuthLost = fn }

/** Query string from an object, leaving out empty values. */
export function query(params = {}) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.append(k, v)
  }
  const s = q.toString()
  return s ? `?${s}` : ''
}

/** A first-line error text for people: the message plus the first field error, if any. */
export function explain(err) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err)
  const first = Object.entries(err.errors || {})[0]
  if (!first) return err.message
  const detail = Array.isArray(first[1]) ? first[1].map((x) => (typeof x === 'string' ? x : x.message || JSON.stringify(x))).join('；')
    : typeof first[1] === 'object' ? JSON.stringify(first[1]) : String(first[1])
  return `${err.message}（${first[0]}：${detail}）`
}

async function send(method, path, { body, form, raw } = {}) {
  const headers = {}
  if (session.token) headers.Authorization = `Bearer ${session.token}`
  let payload
  if (form) payload = form
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    payload = JSON.stringify(body)
  }
  if (method !== 'GET') headers['Idempotency-Key'] = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`
  const resp = await fetch(BASE + path, { method, headers, body: payload })
  if (raw && resp.ok) return resp
  const text = await resp.text()
  let data = null
  try { data = text ? JSON.parse(text) : null } catch { data = { message: text } }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data)
    if (resp.status === 401 && !path.startsWith('/auth/')) onAuthLost(err)
    if (err.code === 'password_change_required') onAuthLost(err)
    throw err
  }
  return data
}

export const api = {
  get: (path, params) => send('GET', path + query(params)),
  post: (path, body = {}) => send('POST', path, { body }),
  patch: (path, body = {}) => send('PATCH', path, { body }),
  del: (path) => send('DELETE', path),
  upload: (path, form) => send('POST', path, { form }),
  /** Every item of a cursor-paginated list (at most ``max``). */
  async all(path, params = {}, max = 1000) {
    const items = []
    let cursor
    do {
      const page = await send('GET', path + query({ ...params, limit: 100, cursor }))
      items.push(...page.items)
      cursor = page.next_cursor
    } while (cursor && items.length < max)
    return items
  },
  /** Download a file answer: saves it through a temporary link; returns the file name. */
  async download(path, params) {
    const resp = await send('GET', path + query(params), { raw: true })
    const name = filenameOf(resp.headers.get('Content-Disposition')) || 'download'
    const blob = await resp.blob()
    const url = URL.createObjectURL(blob)
    const a = document.createElement('a')
    a.href = url
    a.download = name
    document.body.appendChild(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(url), 10000)
    return name
  },
}

/** The file name of a Content-Disposition header, preferring RFC 5987's filename*. */
export function filenameOf(header) {
  if (!header) return null
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header)
  if (star) return decodeURIComponent(star[1])
  const plain = /filename="?([^";]+)"?/i.exec(header)
  return plain ? plain[1] : null
}

export async function signIn(username, password) {
  const data = await send('POST', '/auth/password-login', { body: { username, password } })
  session.token = data.access_token
  session.user = data.user
  session.mustChange = data.must_change_password
  return data
}

export async function changePassword(old, neu) {
  const data = await send('POST', '/auth/password', { body: { old, new: neu } })
  session.token = data.access_token
  session.user = data.user
  session.mustChange = false
  return data
}

export async function loadMe() {
  session.user = await send('GET', '/me')
  return session.user
}

export function signOut() {
  session.token = null
  session.user = null
  session.mustChange = false
}
