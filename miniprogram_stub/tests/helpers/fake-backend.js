// An in-memory stand-in for the backend's HTTP contract (shared/API.md), only as deep as
// the pages need, for page tests that must not depend on the live backend. Quotes,
// approvals and charges are canned and the tests set them; the one rule it keeps is the
// backend's `allowed_actions` (what the caller may do now), so that a page can be shown
// to follow it, and an action it does not allow is refused as the backend would.
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

// Trip actions by state, as the backend's rules give them to the trip's applicant and to
// the driver assigned to it (every dispatched or running trip here is the demo driver's).
const APPLICANT_ACTIONS = {
  draft: ['quote', 'cancel'],
  quoted: ['quote', 'submit', 'cancel'],
  pending_approval: ['withdraw', 'cancel'],
  approved: ['cancel'],
  price_changed: ['accept_price', 'cancel'],
  dispatched: ['cancel'],
  completed: ['confirm', 'dispute'],
}
// When the mini-program asks for which WeChat templates (GET /me/subscriptions moments).
const MOMENTS = {
  submit_trip: ['tmpl-trip-result', 'tmpl-vehicle-assigned', 'tmpl-trip-confirm'],
  approval_inbox: ['tmpl-approval-task'],
  driver_tasks: ['tmpl-driver-task'],
}
const DRIVER_ACTIONS = { dispatched: ['start'], in_progress: ['finish'] }

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
    openDisputes: new Set(),
    tripValidation: null,
    posted: [],
    // The message centre: {id, user_id, kind, title, body, link, read, created_at}
    messages: [],
    grants: {}, // `${userId} ${templateId}` -> count
    dispatch: new Map(), // trip id -> the /trips/{id}/dispatch answer
    delegations: [],
  }
  const tokens = new Map()

  function issue(user) {
    const token = `tok-${user.id}-${state.seq += 1}`
    tokens.set(token, user)
    return { access_token: token, expires_in: 3600, user: { id: user.id, name: user.name } }
  }

  // A trip or task stored with its own allowed_actions keeps them: a test's stand-in for a
  // case the fake does not model (another unit's overseer, a dispatcher, a delegation).
  function tripActions(trip, user) {
    if (trip.allowed_actions) return trip.allowed_actions
    if (trip.applicant_id === user.id) {
      const actions = APPLICANT_ACTIONS[trip.state] || []
      return state.openDisputes.has(trip.id) ? actions.filter((a) => a !== 'dispute') : actions
    }
    if (user.roles.includes('driver')) return DRIVER_ACTIONS[trip.state] || []
    return []
  }

  function taskActions(task, user) {
    if (task.allowed_actions) return task.allowed_actions
    return task.state === 'pending' && task.assignee_id === user.id ? ['approve', 'reject'] : []
  }

  const tripOut = (trip, user) => Object.assign({}, trip, { allowed_actions: tripActions(trip, user) })
  const taskOut = (task, user) => Object.assign({}, task, { allowed_actions: taskActions(task, user) })

  function closeTasks(tripId) {
    for (const task of state.tasks.values()) {
      if (task.trip_id === tripId && task.state === 'pending') task.state = 'cancelled'
    }
  }

  function moveTrip(trip, to, user, comment) {
    trip.state = to
    trip.history.push({ state: to, at: '2026-11-25T06:02:00Z', actor_id: user.id, comment: comment || null })
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

    // POST /trips/{id}/<action> and /approvals/{id}/<action> are refused unless allowed.
    const segment = r.method === 'POST' ? p.split('/')[3] : undefined
    const action = segment === 'quotes' ? 'quote' : segment && segment.replace(/-/g, '_')
    const trip = p.startsWith('/trips/') ? state.trips.get(id) : null
    const task = p.startsWith('/approvals/') ? state.tasks.get(id) : null
    if (p.startsWith('/trips/') && !trip) return error(res, 404, 'not_found', '行程不存在')
    if (p.startsWith('/approvals/') && !task) return error(res, 404, 'not_found', '审批任务不存在')
    if (trip && action && !tripActions(trip, user).includes(action)) {
      return error(res, 409, 'illegal_transition', '当前状态不能执行该操作', { errors: { state: trip.state } })
    }
    if (task && action && !taskActions(task, user).includes(action)) {
      return error(res, 409, 'conflict', '该审批已处理')
    }

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
        return send(res, 200, { items: [...state.trips.values()].reverse().map((t) => tripOut(t, user)), next_cursor: null })
      case 'GET /trips/:id':
        return send(res, 200, tripOut(trip, user))
      case 'POST /trips/:id/quotes':
        moveTrip(trip, 'quoted', user)
        return send(res, 200, { trip_id: id, state: trip.state, offers: state.offers, providers: state.providers })
      case 'POST /trips/:id/submit': {
        moveTrip(trip, 'pending_approval', user)
        const created = { id: state.seq += 1, trip_id: id, step: 1, state: 'pending', assignee_id: USERS['demo-approver'].id }
        state.tasks.set(created.id, created)
        return send(res, 200, tripOut(trip, user))
      }
      case 'POST /trips/:id/accept-price':
        if (trip.state !== 'price_changed') return error(res, 409, 'no_price_change', '该行程没有待确认的新价格')
        trip.estimate = trip.price_change.new_price
        trip.price_change = null
        moveTrip(trip, 'approved', user, '申请人接受新价格')
        return send(res, 200, tripOut(trip, user))
      case 'POST /trips/:id/withdraw':
      case 'POST /trips/:id/cancel':
        closeTasks(id)
        moveTrip(trip, action === 'withdraw' ? 'withdrawn' : 'cancelled', user, r.body.reason)
        return send(res, 200, tripOut(trip, user))
      case 'GET /approvals':
        return send(res, 200, {
          items: [...state.tasks.values()].filter((t) => t.state === url.searchParams.get('state')).map((t) => taskOut(t, user)),
          next_cursor: null,
        })
      case 'GET /approvals/:id':
        return send(res, 200, taskOut(task, user))
      case 'POST /approvals/:id/approve':
      case 'POST /approvals/:id/reject': {
        const approve = action === 'approve'
        task.state = approve ? 'approved' : 'rejected'
        moveTrip(state.trips.get(task.trip_id), task.state, user, r.body.comment || r.body.reason)
        return send(res, 200, taskOut(task, user))
      }
      case 'GET /trips/:id/charge':
        return send(res, 200, Object.assign({ trip_id: id }, state.charge))
      case 'POST /trips/:id/confirm':
        state.openDisputes.delete(id)
        moveTrip(trip, 'confirmed', user)
        state.charge.final = true
        return send(res, 200, tripOut(trip, user))
      case 'POST /trips/:id/dispute':
        state.openDisputes.add(id)
        return send(res, 200, { id: state.seq += 1, trip_id: id, reason: r.body.reason, open: true })
      case 'GET /driver/tasks': {
        // The driver's active assignments, each with its trip.
        const running = [...state.trips.values()].filter((t) => ['dispatched', 'in_progress'].includes(t.state))
        return send(res, 200, {
          items: running.map((t) => ({ id: t.id + 10000, trip_id: t.id, trip_state: t.state, active: true, trip: tripOut(t, user) })),
          next_cursor: null,
        })
      }
      case 'POST /trips/:id/start':
        moveTrip(trip, 'in_progress', user)
        return send(res, 200, { trip_id: id, trip_state: trip.state, start_odometer_km: r.body.odometer_km })
      case 'POST /trips/:id/finish':
        moveTrip(trip, 'completed', user)
        return send(res, 200, { trip_id: id, trip_state: trip.state, end_odometer_km: r.body.odometer_km })
      case 'GET /me/subscriptions':
        return send(res, 200, { templates: [], moments: MOMENTS })
      case 'POST /me/subscriptions': {
        const known = [].concat(...Object.values(MOMENTS))
        const ids = r.body.template_ids || []
        if (!ids.length || ids.some((t) => !known.includes(t))) {
          return error(res, 422, 'unknown_template', '包含未知的订阅消息模板', { errors: { template_ids: ['未知的模板'] } })
        }
        for (const t of ids) state.grants[`${user.id} ${t}`] = (state.grants[`${user.id} ${t}`] || 0) + 1
        return send(res, 200, { templates: [], moments: MOMENTS })
      }
      case 'GET /me/messages': {
        const mine = state.messages.filter((m) => m.user_id === user.id).sort((a, b) => b.id - a.id)
        const cursor = Number(url.searchParams.get('cursor') || 0)
        const limit = Number(url.searchParams.get('limit') || 20)
        const after = cursor ? mine.filter((m) => m.id < cursor) : mine
        const items = after.slice(0, limit)
        return send(res, 200, {
          items,
          next_cursor: after.length > limit ? String(items[items.length - 1].id) : null,
          unread_count: mine.filter((m) => !m.read).length,
        })
      }
      case 'GET /me/messages/unread':
        return send(res, 200, { unread_count: state.messages.filter((m) => m.user_id === user.id && !m.read).length })
      case 'POST /me/messages/read': {
        let marked = 0
        for (const m of state.messages) {
          if (m.user_id === user.id && !m.read && (!r.body.ids || r.body.ids.includes(m.id))) {
            m.read = true
            marked += 1
          }
        }
        return send(res, 200, { marked, unread_count: state.messages.filter((m) => m.user_id === user.id && !m.read).length })
      }
      case 'GET /trips/:id/dispatch':
        return send(res, 200, state.dispatch.get(id) || { trip_id: id, state: trip.state, assignments: [], provider_order: null })
      case 'GET /delegations':
        return send(res, 200, { items: state.delegations.filter((d) => d.delegator_id === user.id).slice().reverse(), next_cursor: null })
      case 'POST /delegations': {
        const created = Object.assign({ id: state.seq += 1, delegator_id: user.id, revoked_at: null, active: true }, r.body)
        state.delegations.push(created)
        return send(res, 201, created)
      }
      case 'POST /delegations/:id/revoke': {
        const found = state.delegations.find((d) => d.id === id && d.delegator_id === user.id)
        if (!found) return error(res, 404, 'not_found', '代理设置不存在')
        found.revoked_at = '2026-11-25T06:05:00Z'
        found.active = false
        return send(res, 200, found)
      }
      default:
        return error(res, 404, 'not_found', `未实现 ${route}`)
    }
  })

  return { baseUrl: server.baseUrl, state, server, close: () => server.close() }
}

module.exports = { startFakeBackend, MOMENTS }
