// An in-memory stand-in for the backend's HTTP contract (shared/API.md), only as deep as
// the pages need, for page tests that must not depend on the live backend. It holds no
// real rules: quotes, approvals and charges are canned and the tests set them.
const { startFakeServer, send } = require('./fake-server')

const USERS = {
  'demo-traveler': { id: 1, name: '张三', roles: ['traveler'] },
  'demo-approver': { id: 2, name: '王科长', roles: ['approver'] },
  'demo-driver': { id: 3, name: '刘师傅', roles: ['driver'] },
  'demo-platform-approver': { id: 4, name: '陈处长', roles: ['platform_approver'] },
}

const OFFERS = [
  {
    id: 'off-rent', channel: 'rental', provider: '常州租车', product: '商务轿车含司机', vehicle_class: 'sedan',
    seats: 4, nev: false, price: '480.00', breakdown: [], expires_at: '2026-11-25T07:00:00Z',
    compliant: false, reasons: [{ code: 'over_ceiling', message: '超出框架协议限价' }], recommended: false,
  },
  {
    id: 'off-fleet', channel: 'fleet', provider: '市公务用车平台', product: '公务轿车', vehicle_class: 'sedan',
    seats: 4, nev: true, price: '60.00', breakdown: [], expires_at: '2026-11-25T07:00:00Z',
    compliant: true, reasons: [], recommended: true,
  },
]
const PROVIDERS = [
  { name: 'fleet', status: 'ok', latency_ms: 12 },
  { name: 'rental-a', status: 'ok', latency_ms: 80 },
  { name: 'ridehail', status: 'timeout', latency_ms: 3000 },
]
const PHONES = { '13800000009': { id: 9, name: '赵六', roles: ['traveler'] } }

function error(res, status, code, message, extra) {
  send(res, status, Object.assign({ code, message, status, errors: null }, extra || {}))
}

async function startFakeBackend() {
  const server = await startFakeServer()
  const state = {
    trips: new Map(),
    tasks: new Map(),
    seq: 100,
    offers: OFFERS,
    providers: PROVIDERS,
    charge: null,
    tripValidation: null,
    posted: [],
  }
  const tokens = new Map()

  function issue(user) {
    const token = `tok-${user.id}-${state.seq += 1}`
    tokens.set(token, user)
    return { access_token: token, expires_in: 3600, user: { id: user.id, name: user.name } }
  }

  server.handle((r, res) => {
    const url = new URL(r.url, 'http://x')
    const p = url.pathname.replace(/^\/api\/v1/, '')
    const route = `${r.method} ${p.replace(/\/\d+/g, '/:id')}`
    const id = Number((p.match(/\/(\d+)/) || [])[1])
    if (r.method === 'POST') state.posted.push({ path: p, body: r.body, key: r.headers['idempotency-key'] })

    if (route === 'POST /auth/wechat-login') {
      const openid = String(r.body.code).replace(/^sandbox:/, '')
      if (USERS[openid]) return send(res, 200, issue(USERS[openid]))
      return error(res, 403, 'binding_required', '该微信尚未绑定账号，请先绑定手机号', { ticket: `ticket-${openid}` })
    }
    if (route === 'POST /auth/bind') {
      const phone = String(r.body.phone_code).replace(/^sandbox-phone:/, '')
      if (!String(r.body.ticket).startsWith('ticket-')) return error(res, 400, 'invalid_ticket', '绑定凭证无效')
      if (!PHONES[phone]) return error(res, 404, 'user_not_registered', '该手机号未登记，请联系管理员')
      return send(res, 200, issue(PHONES[phone]))
    }

    const user = tokens.get(String(r.headers.authorization || '').replace(/^Bearer /, ''))
    if (!user) return error(res, 401, 'unauthorized', '请先登录')

    switch (route) {
      case 'GET /me':
        return send(res, 200, { user: { id: user.id, name: user.name }, unit: { id: 1, name: '市机关事务局' }, roles: user.roles })
      case 'POST /trips': {
        if (state.tripValidation) return send(res, 422, state.tripValidation)
        const trip = Object.assign({ id: state.seq += 1, state: 'draft', cross_region: false, unit_id: 1, applicant_id: user.id }, r.body)
        trip.history = [{ state: 'draft', at: '2026-11-25T06:00:00Z', actor_id: user.id, comment: null }]
        state.trips.set(trip.id, trip)
        return send(res, 201, trip)
      }
      case 'GET /trips':
        return send(res, 200, { items: [...state.trips.values()].reverse(), next_cursor: null })
      case 'GET /trips/:id':
        return state.trips.has(id) ? send(res, 200, state.trips.get(id)) : error(res, 404, 'not_found', '行程不存在')
      case 'POST /trips/:id/quotes':
        return send(res, 200, { offers: state.offers, providers: state.providers })
      case 'POST /trips/:id/submit': {
        const trip = state.trips.get(id)
        trip.state = 'pending_approval'
        trip.history.push({ state: 'pending_approval', at: '2026-11-25T06:01:00Z', actor_id: user.id, comment: null })
        const task = { id: state.seq += 1, trip_id: id, step: 1, state: 'pending' }
        state.tasks.set(task.id, task)
        return send(res, 200, trip)
      }
      case 'POST /trips/:id/cancel': {
        const trip = state.trips.get(id)
        trip.state = 'cancelled'
        trip.history.push({ state: 'cancelled', at: '2026-11-25T06:02:00Z', actor_id: user.id, comment: r.body.reason })
        return send(res, 200, trip)
      }
      case 'GET /approvals':
        return send(res, 200, {
          items: [...state.tasks.values()].filter((t) => t.state === url.searchParams.get('state')),
          next_cursor: null,
        })
      case 'GET /approvals/:id':
        return state.tasks.has(id) ? send(res, 200, state.tasks.get(id)) : error(res, 404, 'not_found', '审批任务不存在')
      case 'POST /approvals/:id/approve':
      case 'POST /approvals/:id/reject': {
        const task = state.tasks.get(id)
        if (!task || task.state !== 'pending') return error(res, 409, 'conflict', '该审批已处理')
        const approve = p.endsWith('/approve')
        task.state = approve ? 'approved' : 'rejected'
        const trip = state.trips.get(task.trip_id)
        trip.state = approve ? 'approved' : 'rejected'
        trip.history.push({ state: trip.state, at: '2026-11-25T06:03:00Z', actor_id: user.id, comment: r.body.comment || r.body.reason })
        return send(res, 200, task)
      }
      case 'GET /trips/:id/charge':
        return send(res, 200, Object.assign({ trip_id: id }, state.charge))
      case 'POST /trips/:id/confirm':
        state.charge.final = true
        return send(res, 200, state.charge)
      case 'POST /trips/:id/dispute':
        return send(res, 200, state.charge)
      case 'GET /driver/tasks':
        return send(res, 200, { items: [...state.trips.values()].filter((t) => ['dispatched', 'in_progress'].includes(t.state)), next_cursor: null })
      case 'POST /trips/:id/start':
        state.trips.get(id).state = 'in_progress'
        return send(res, 200, state.trips.get(id))
      case 'POST /trips/:id/finish':
        state.trips.get(id).state = 'completed'
        return send(res, 200, state.trips.get(id))
      default:
        return error(res, 404, 'not_found', `未实现 ${route}`)
    }
  })

  return { baseUrl: server.baseUrl, state, server, close: () => server.close() }
}

module.exports = { startFakeBackend }
