// End-to-end flows through the pages' own handlers against the live backend (started by
// tests/helpers/backend.js, or BACKEND_URL): a traveler books and submits, an approver
// approves from the inbox, the traveler sees the approved trip.
const test = require('node:test')
const assert = require('node:assert/strict')
const { bridge, openPage } = require('./helpers/miniapp')
const { startBackend, unavailableReason } = require('./helpers/backend')
const api = require('../utils/request')

const skip = unavailableReason()
if (skip) console.log(`flow tests skipped: ${skip}`)

// The pages offer approve/reject, cancel, start/finish and confirm only when the backend's
// allowed_actions name them, so these flows also prove the backend serves the field.

let backend
const shared = { tripId: null, offer: null, taskId: null }

test.before(async () => {
  if (skip) return
  backend = await startBackend()
  bridge.setBaseUrl(backend.baseUrl)
})

test.after(async () => {
  if (backend) await backend.stop()
})

function pad(n) { return String(n).padStart(2, '0') }

// Tomorrow in Beijing, moved to Monday when it falls on a weekend, so the trip stays a
// plain in-city workday trip (one approval step).
function departDate() {
  const d = new Date(Date.now() + 8 * 3600 * 1000 + 86400000)
  while (d.getUTCDay() === 0 || d.getUTCDay() === 6) d.setUTCDate(d.getUTCDate() + 1)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
}

// Asia/Shanghai wall-clock date and time of a UTC instant, as the form's pickers take them.
function shanghai(ms) {
  const d = new Date(ms + 8 * 3600 * 1000)
  return { date: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
    time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` }
}

// A departure about an hour from now (whole 5 minutes): a driver may set off at most two
// hours before departure, so a trip driven in this test must leave soon.
function soonWindow() {
  const step = 5 * 60 * 1000
  const depart = Math.ceil((Date.now() + 60 * 60 * 1000) / step) * step
  return { depart: shanghai(depart), back: shanghai(depart + 3 * 3600 * 1000) }
}

function assertNoError(page, what) {
  assert.equal(page.data.error, '', `${what}: page shows error "${page.data.error}"`)
}

function expectNavigation(type, route) {
  const nav = bridge.lastNavigation()
  assert.ok(nav, `expected ${type} to ${route}, there was no navigation`)
  assert.equal(nav.type, type)
  assert.ok(nav.url.startsWith(route), `expected ${type} to ${route}, got ${nav.url}`)
  return nav.url
}

// A user opens the mini-program on their phone: login page, tap login, land on home.
async function loginAs(openid) {
  bridge.useUser(openid)
  const login = await openPage('/pages/login/index')
  await login.tap('#login')
  assertNoError(login, `login as ${openid}`)
  assert.equal(login.data.needBind, false, `${openid} should be bound already (demo seed)`)
  const home = await openPage(expectNavigation('reLaunch', '/pages/home/index'))
  assertNoError(home, `home of ${openid}`)
  return home
}

async function openFromHome(home, entry, route) {
  assert.ok(home.has(`#entry-${entry}`),
    `home should offer "${entry}"; entries shown: ${JSON.stringify(home.data.entries.map((e) => e.id))}`)
  await home.tap(`#entry-${entry}`)
  return openPage(expectNavigation('navigateTo', route))
}

// Approves the pending task of the trip from the signed-in user's inbox, through the UI.
async function approveFromInbox(home, tripId, comment) {
  const inbox = await openFromHome(home, 'approvals', '/pages/approval/inbox')
  assertNoError(inbox, 'approvals inbox')
  let index = inbox.data.items.findIndex((t) => String(t.trip_id) === String(tripId))
  while (index < 0 && inbox.data.nextCursor) {
    await inbox.tap('#more')
    index = inbox.data.items.findIndex((t) => String(t.trip_id) === String(tripId))
  }
  if (index < 0) return null
  const task = inbox.data.items[index]
  assert.equal(task.state, 'pending')

  await inbox.tap(`#task-${index}`)
  assert.deepEqual(bridge.state.subscribeCalls[bridge.state.subscribeCalls.length - 1], ['tmpl-approval-task'])
  const reported = bridge.state.requests.filter((r) => r.url.endsWith('/me/subscriptions') && r.method === 'POST')
  assert.deepEqual(reported.pop().data, { template_ids: ['tmpl-approval-task'] })
  const detail = await openPage(expectNavigation('navigateTo', '/pages/approval/detail'))
  assertNoError(detail, 'approval detail')
  assert.equal(String(detail.data.task.id), String(task.id))
  assert.equal(String(detail.data.trip.id), String(tripId))
  assert.ok(detail.has('#approve'), 'approve button is shown')

  await detail.input('#comment', comment)
  await detail.tap('#approve')
  assertNoError(detail, 'approve')
  assert.equal(detail.data.done, true)
  assert.ok(bridge.state.toasts.includes('已同意'))
  return task
}

// Mutating calls of roles that have no mini-program pages (dispatcher, admin), over HTTP
// as that user.
async function callAs(openid, method, path, data) {
  bridge.useUser(openid)
  await api.login()
  return api.request({ method, path, data })
}

// The in-city workday trip both bookings use: from the city government to the planning hall.
async function fillTripForm(form, window = null) {
  await form.input('#stop-0-name', '常州市人民政府')
  await form.input('#stop-0-lat', '31.8107')
  await form.input('#stop-0-lng', '119.9741')
  await form.input('#stop-1-name', '常州市规划展示馆')
  await form.input('#stop-1-lat', '31.7806')
  await form.input('#stop-1-lng', '119.9585')
  const date = departDate()
  const { depart, back } = window || { depart: { date, time: '09:00' }, back: { date, time: '12:00' } }
  await form.change('#depart-date', depart.date)
  await form.change('#depart-time', depart.time)
  await form.change('#return-date', back.date)
  await form.change('#return-time', back.time)
  await form.input('#passenger-0', '张三')
  await form.tap('#add-passenger')
  await form.input('#passenger-1', '李四')
  await form.change('#purpose', 0)
  await form.input('#purpose-text', '参加市政府专题会议')
}

test('(a) the demo traveler fills a new trip, gets offers and submits the recommended one', { skip: Boolean(skip) }, async () => {
  const home = await loginAs('demo-traveler')
  const form = await openFromHome(home, 'new-trip', '/pages/trip/new')
  await fillTripForm(form)

  await form.tap('#submit')
  assertNoError(form, 'create trip')
  const offersUrl = expectNavigation('navigateTo', '/pages/trip/offers')

  const offers = await openPage(offersUrl)
  assertNoError(offers, 'quotes')
  const tripId = offers.data.tripId
  assert.ok(tripId, 'trip id comes back from POST /trips')
  assert.ok(offers.data.offers.length > 0, 'at least one offer')
  assert.ok(offers.data.providers.length > 0, 'provider statuses are listed')
  for (const p of offers.data.providers) {
    assert.ok(['ok', 'timeout', 'error', 'not_applicable'].includes(p.status), `provider status ${p.status}`)
  }
  for (const o of offers.data.offers) {
    assert.equal(typeof o.price, 'string', 'price arrives as a string')
    assert.match(o.price, /^\d+\.\d{2}$/)
    assert.ok(['fleet', 'rental', 'ridehail'].includes(o.channel), `channel ${o.channel}`)
  }
  const index = offers.data.offers.findIndex((o) => o.recommended)
  assert.ok(index >= 0, 'one offer is marked recommended')
  const chosen = offers.data.offers[index]
  assert.equal(chosen.compliant, true, 'the recommended offer is compliant for this in-city trip')
  assert.ok(offers.text(`#offer-${index}`).includes(`¥${chosen.price}`), 'the price is shown as sent')

  await offers.tap(`#offer-${index}`)
  assert.equal(offers.data.selectedId, chosen.id)
  bridge.state.subscribeAnswer = { 'tmpl-trip-result': 'accept', 'tmpl-vehicle-assigned': 'accept' }
  await offers.tap('#submit')
  assertNoError(offers, 'submit')
  assert.ok(bridge.state.toasts.includes('已提交审批'))
  // The submit tap asked WeChat for the messages that follow; the backend counted the two
  // accepted ones (and not the refused one).
  assert.deepEqual(bridge.state.subscribeCalls,
    [['tmpl-trip-result', 'tmpl-vehicle-assigned', 'tmpl-trip-confirm']])
  const grants = await api.get('/me/subscriptions')
  const remaining = Object.fromEntries(grants.templates.map((g) => [g.template_id, g.remaining]))
  assert.ok(remaining['tmpl-trip-result'] >= 1 && remaining['tmpl-vehicle-assigned'] >= 1,
    `grants counted: ${JSON.stringify(remaining)}`)
  assert.equal(remaining['tmpl-trip-confirm'], 0)

  const detail = await openPage(expectNavigation('redirectTo', '/pages/trip/detail'))
  assertNoError(detail, 'trip detail')
  assert.equal(String(detail.data.trip.id), String(tripId))
  assert.equal(detail.data.trip.state, 'pending_approval')
  assert.equal(detail.data.trip.cross_region, false)
  shared.tripId = tripId
  shared.offer = chosen
})

test('(b) the demo approver approves the trip from the inbox', { skip: Boolean(skip) }, async (t) => {
  assert.ok(shared.tripId, 'flow (a) created a trip')
  const home = await loginAs('demo-approver')
  const task = await approveFromInbox(home, shared.tripId, '同意，注意安全')
  assert.ok(task, `the approver's pending inbox lists a task for trip ${shared.tripId}`)
  shared.taskId = task.id

  // A departure that lands on a public holiday needs the platform step as well (SPEC §4).
  const platformHome = await loginAs('demo-platform-approver')
  const second = await approveFromInbox(platformHome, shared.tripId, '同意')
  if (second) t.diagnostic(`platform approval step ${second.step} was also required and approved`)
})

test('(c) the traveler sees the trip approved in my trips', { skip: Boolean(skip) }, async () => {
  assert.ok(shared.tripId, 'flow (a) created a trip')
  const home = await loginAs('demo-traveler')
  const list = await openFromHome(home, 'my-trips', '/pages/trip/list')
  assertNoError(list, 'my trips')
  let index = list.data.items.findIndex((tr) => String(tr.id) === String(shared.tripId))
  while (index < 0 && list.data.nextCursor) {
    await list.tap('#more')
    index = list.data.items.findIndex((tr) => String(tr.id) === String(shared.tripId))
  }
  assert.ok(index >= 0, `trip ${shared.tripId} is in my trips`)
  assert.equal(list.data.items[index].state, 'approved')
  assert.ok(list.text(`#trip-${index}`).includes('已批准'))

  await list.tap(`#trip-${index}`)
  const detail = await openPage(expectNavigation('navigateTo', '/pages/trip/detail'))
  assertNoError(detail, 'trip detail')
  const states = detail.data.trip.history.map((h) => h.state)
  assert.ok(states.includes('pending_approval') && states.includes('approved'),
    `history records submit and approval: ${JSON.stringify(states)}`)
})

test('(c2) the approval reached the traveler\'s message centre, with the unread badge on home', { skip: Boolean(skip) }, async () => {
  assert.ok(shared.tripId, 'flow (a) created a trip')
  const home = await loginAs('demo-traveler')
  assert.ok(home.data.unreadCount >= 1, 'home counts the unread message')
  assert.ok(home.has('#unread-badge'), 'and shows the badge on the message centre entry')
  const centre = await openFromHome(home, 'messages', '/pages/messages/index')
  assertNoError(centre, 'message centre')
  const at = centre.data.items.findIndex((m) => m.link === `pages/trip/detail?id=${shared.tripId}` && m.kind === 'trip_result')
  assert.ok(at >= 0, `a result message for trip ${shared.tripId}: ${JSON.stringify(centre.data.items.map((m) => m.title))}`)
  const message = centre.data.items[at]
  assert.equal(message.title, '用车申请结果')
  assert.ok(centre.text(`#message-${message.id}`).includes('已通过'))
  const before = centre.data.unreadCount
  await centre.tap(`#message-${message.id}`)
  assertNoError(centre, 'open message')
  assert.equal(centre.data.unreadCount, before - 1)
  expectNavigation('navigateTo', `/pages/trip/detail?id=${shared.tripId}`)
  const again = await api.get('/me/messages/unread')
  assert.equal(again.unread_count, before - 1)
})

test('(d) after approval the traveler may cancel but not withdraw; the approver has nothing left to do', { skip: Boolean(skip) }, async () => {
  assert.ok(shared.taskId, 'flow (b) approved a task')
  await loginAs('demo-traveler')
  const detail = await openPage(`/pages/trip/detail?id=${shared.tripId}`)
  assertNoError(detail, 'trip detail')
  assert.ok(detail.data.trip.allowed_actions.includes('cancel'), `allowed: ${detail.data.trip.allowed_actions}`)
  assert.ok(detail.has('#cancel'), 'the approved trip can still be cancelled')
  assert.equal(detail.has('#withdraw'), false, 'an approved trip is no longer withdrawn')
  assert.equal(detail.has('#quote'), false)

  await loginAs('demo-approver')
  const task = await openPage(`/pages/approval/detail?task_id=${shared.taskId}`)
  assertNoError(task, 'approval detail')
  assert.deepEqual(task.data.task.allowed_actions, [])
  assert.equal(task.data.done, true)
  assert.equal(task.has('#approve'), false)
  assert.equal(task.has('#reject'), false)
})

test('(e) a fleet trip: the driver gets only start, then only finish, readings go as strings; the traveler confirms', { skip: Boolean(skip) }, async () => {
  const home = await loginAs('demo-traveler')
  const form = await openFromHome(home, 'new-trip', '/pages/trip/new')
  await fillTripForm(form, soonWindow())
  await form.tap('#submit')
  assertNoError(form, 'create trip')
  const offers = await openPage(expectNavigation('navigateTo', '/pages/trip/offers'))
  assertNoError(offers, 'quotes')
  const tripId = offers.data.tripId
  const index = offers.data.offers.findIndex((o) => o.channel === 'fleet' && o.compliant)
  assert.ok(index >= 0, `a compliant fleet offer: ${JSON.stringify(offers.data.offers.map((o) => o.channel))}`)
  await offers.tap(`#offer-${index}`)
  await offers.tap('#submit')
  assertNoError(offers, 'submit')
  assert.ok(await approveFromInbox(await loginAs('demo-approver'), tripId, '同意'), 'the approver approves')
  await approveFromInbox(await loginAs('demo-platform-approver'), tripId, '同意')

  // The dispatcher gives the trip to demo-driver (no dispatcher pages in the mini-program).
  await loginAs('demo-driver')
  const driverUserId = wx.getStorageSync('auth_user').id
  const drivers = await callAs('demo-admin', 'GET', '/admin/drivers?limit=100')
  const driver = drivers.items.find((d) => d.user_id === driverUserId)
  assert.ok(driver, 'demo-driver has a driver record')
  const assignment = await callAs('demo-dispatcher', 'POST', `/trips/${tripId}/assign`, { driver_id: driver.id })
  const startKm = (Number(assignment.vehicle.odometer_km) + 3.4).toFixed(1)
  // finished seconds after the start on the real clock: the backend refuses a reading
  // implying more than 150 km/h since the last one, so the odometer has not moved
  const endKm = startKm

  await loginAs('demo-traveler')
  const dispatched = await openPage(`/pages/trip/detail?id=${tripId}`)
  assertNoError(dispatched, 'dispatched trip detail')
  assert.equal(dispatched.data.trip.state, 'dispatched')
  assert.equal(dispatched.text('#plate'), assignment.vehicle.plate)
  assert.equal(dispatched.text('#driver'), assignment.driver.name)
  assert.equal(dispatched.text('#driver-phone'), assignment.driver.phone)

  const driverHome = await loginAs('demo-driver')
  const tasks = await openFromHome(driverHome, 'driver-tasks', '/pages/driver/tasks')
  assertNoError(tasks, 'driver tasks')
  let at = tasks.data.tasks.findIndex((t) => String(t.tripId) === String(tripId))
  assert.ok(at >= 0, `trip ${tripId} is among the driver's tasks`)
  await tasks.tap(`#task-${at}`)
  assert.deepEqual(bridge.state.subscribeCalls, [['tmpl-driver-task']], 'picking a task asks for task messages')
  assert.ok(tasks.has('#start'), 'a dispatched trip can be started')
  assert.equal(tasks.has('#finish'), false, 'and not finished yet')
  await tasks.input('#start-km', startKm)
  await tasks.tap('#start')
  assertNoError(tasks, 'start')
  const started = bridge.state.requests.filter((r) => r.url.endsWith(`/trips/${tripId}/start`)).pop()
  assert.deepEqual(started.data, { odometer_km: startKm })

  at = tasks.data.tasks.findIndex((t) => String(t.tripId) === String(tripId))
  await tasks.tap(`#task-${at}`)
  assert.equal(tasks.has('#start'), false, 'a running trip is not started again')
  await tasks.input('#finish-km', endKm)
  await tasks.input('#finish-tolls', '12.00')
  await tasks.tap('#finish')
  assertNoError(tasks, 'finish')
  const finished = bridge.state.requests.filter((r) => r.url.endsWith(`/trips/${tripId}/finish`)).pop()
  assert.equal(finished.data.odometer_km, endKm)

  await loginAs('demo-traveler')
  const charge = await openPage(`/pages/trip/charge?id=${tripId}`)
  assertNoError(charge, 'charge')
  assert.ok(charge.has('#confirm') && charge.has('#dispute'), 'the passenger confirms or disputes a completed trip')
  await charge.tap('#confirm')
  assertNoError(charge, 'confirm')
  assert.equal(charge.has('#confirm'), false)
  assert.equal(charge.has('#dispute'), false)
})

test('(f) the traveler withdraws a submitted trip from its page; refusing the messages does not stop the submit', { skip: Boolean(skip) }, async () => {
  const home = await loginAs('demo-traveler')
  const form = await openFromHome(home, 'new-trip', '/pages/trip/new')
  await fillTripForm(form)
  await form.tap('#submit')
  assertNoError(form, 'create trip')
  const offers = await openPage(expectNavigation('navigateTo', '/pages/trip/offers'))
  assertNoError(offers, 'quotes')
  bridge.state.subscribeAnswer = 'reject'
  await offers.tap('#submit')
  assertNoError(offers, 'submit')
  assert.equal(bridge.state.requests.filter((r) => r.url.endsWith('/me/subscriptions') && r.method === 'POST').length, 0)
  const detail = await openPage(expectNavigation('redirectTo', '/pages/trip/detail'))
  assert.equal(detail.data.trip.state, 'pending_approval')
  assert.ok(detail.has('#withdraw'), 'a pending trip offers withdraw')
  await detail.tap('#withdraw')
  assert.ok(bridge.state.toasts.includes('请填写撤回原因'))
  await detail.input('#withdraw-reason', '会议改期')
  await detail.tap('#withdraw')
  assertNoError(detail, 'withdraw')
  assert.equal(detail.data.trip.state, 'withdrawn')
  assert.equal(detail.has('#withdraw'), false)
})

test('(g) the approver names a delegate on the delegation screen, sees a refusal in Chinese, and revokes it', { skip: Boolean(skip) }, async () => {
  await loginAs('demo-traveler')
  const delegateId = wx.getStorageSync('auth_user').id
  await loginAs('demo-approver')
  const inbox = await openPage('/pages/approval/inbox')
  await inbox.tap('#delegations')
  const page = await openPage(expectNavigation('navigateTo', '/pages/approval/delegation'))
  assertNoError(page, 'delegations')
  const before = page.data.items.length

  await page.input('#delegate-id', '999999')
  await page.tap('#create')
  assert.equal(page.data.error, '代理人：代理人无效', 'the backend\'s field error, named as the form names it')

  await page.input('#delegate-id', String(delegateId))
  await page.change('#end-date', departDate())
  await page.tap('#create')
  assertNoError(page, 'create delegation')
  assert.equal(page.data.items.length, before + 1)
  assert.equal(page.data.items[0].delegate_id, delegateId)
  assert.equal(page.data.items[0].active, true)
  await page.tap('#revoke-0')
  assertNoError(page, 'revoke')
  assert.ok(page.data.items[0].revoked_at, 'revoked')
  assert.equal(page.has('#revoke-0'), false)
})

test('(h) the message centre marks everything read and the badge goes', { skip: Boolean(skip) }, async () => {
  const home = await loginAs('demo-approver')
  assert.ok(home.data.unreadCount > 0, 'the approver was told of tasks')
  const centre = await openFromHome(home, 'messages', '/pages/messages/index')
  assert.ok(centre.data.items.some((m) => m.kind === 'approval_task' && m.title === '审批待办'))
  await centre.tap('#read-all')
  assertNoError(centre, 'read all')
  assert.equal(centre.data.unreadCount, 0)
  const again = await loginAs('demo-approver')
  assert.equal(again.data.unreadCount, 0)
  assert.equal(again.has('#unread-badge'), false)
})
