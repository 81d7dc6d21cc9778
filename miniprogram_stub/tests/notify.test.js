// Subscriptions, the message centre, delegations and the trip's crew, page by page against
// the in-memory fake of the HTTP contract, with wx.requestSubscribeMessage faked by the
// harness (bridge.state.subscribeAnswer says what the user taps).
const test = require('node:test')
const assert = require('node:assert/strict')
const { bridge, openPage } = require('./helpers/miniapp')
const pages = require('./helpers/pages')
const { signIn } = pages
const { startFakeBackend, MOMENTS } = require('./helpers/fake-backend')

let backend
test.before(async () => {
  backend = await startFakeBackend()
  bridge.setBaseUrl(backend.baseUrl)
})
test.after(() => backend.close())

const USER_IDS = { 'demo-traveler': 1, 'demo-approver': 2, 'demo-driver': 3 }

function posts(path) { return backend.state.posted.filter((p) => p.path === path) }

function addTrip(fields) {
  return pages.addTrip(backend, Object.assign({ state: 'quoted', vehicle_class: 'sedan' }, fields))
}

function addMessages(openid, n) {
  const added = []
  for (let i = 0; i < n; i += 1) {
    const id = backend.state.seq += 1
    const m = { id, user_id: USER_IDS[openid], kind: 'trip_result', title: '用车申请结果',
      body: `行程编号：YC${id}\n结果：已通过`, link: `pages/trip/detail?id=${id}`, read: false,
      created_at: '2026-11-25T06:00:00Z', data: {} }
    backend.state.messages.push(m)
    added.push(m)
  }
  return added
}

test('submitting a trip asks for its three templates and reports only the accepted ones', async () => {
  await signIn('demo-traveler')
  const trip = addTrip({})
  const offers = await openPage(`/pages/trip/offers?trip_id=${trip.id}`)
  bridge.state.subscribeAnswer = { 'tmpl-trip-result': 'accept', 'tmpl-trip-confirm': 'accept' }
  await offers.tap('#submit')
  assert.equal(offers.data.error, '')
  assert.deepEqual(bridge.state.subscribeCalls, [MOMENTS.submit_trip])
  assert.deepEqual(posts('/me/subscriptions').pop().body,
    { template_ids: ['tmpl-trip-result', 'tmpl-trip-confirm'] })
  assert.equal(backend.state.grants['1 tmpl-trip-result'], 1)
  assert.equal(backend.state.grants['1 tmpl-vehicle-assigned'], undefined)
  assert.ok(posts(`/trips/${trip.id}/submit`).length === 1, 'the trip was submitted as well')
})

test('refusing every template reports nothing and still submits', async () => {
  await signIn('demo-traveler')
  const before = posts('/me/subscriptions').length
  const trip = addTrip({})
  const offers = await openPage(`/pages/trip/offers?trip_id=${trip.id}`)
  bridge.state.subscribeAnswer = 'reject'
  await offers.tap('#submit')
  assert.equal(posts('/me/subscriptions').length, before)
  assert.equal(backend.state.trips.get(trip.id).state, 'pending_approval')
  assert.ok(bridge.state.toasts.includes('已提交审批'))
})

test('an approver opening a task and a driver picking one are asked for their templates', async () => {
  const trip = addTrip({ state: 'pending_approval' })
  const task = { id: backend.state.seq += 1, trip_id: trip.id, step: 1, state: 'pending', assignee_id: 2 }
  backend.state.tasks.set(task.id, task)
  await signIn('demo-approver')
  const inbox = await openPage('/pages/approval/inbox')
  await inbox.tap(`#task-${inbox.data.items.findIndex((t) => t.id === task.id)}`)
  assert.deepEqual(bridge.state.subscribeCalls, [MOMENTS.approval_inbox])
  assert.deepEqual(posts('/me/subscriptions').pop().body, { template_ids: MOMENTS.approval_inbox })

  const running = addTrip({ state: 'dispatched' })
  await signIn('demo-driver')
  const tasks = await openPage('/pages/driver/tasks')
  await tasks.tap(`#task-${tasks.data.tasks.findIndex((t) => t.tripId === running.id)}`)
  assert.deepEqual(bridge.state.subscribeCalls, [MOMENTS.driver_tasks])
  assert.equal(backend.state.grants['3 tmpl-driver-task'], 1)
})

test('the message centre pages, marks one read on opening it and all read at once', async () => {
  await signIn('demo-traveler')
  backend.state.messages = []
  const added = addMessages('demo-traveler', 25)
  addMessages('demo-approver', 2)
  const home = await openPage('/pages/home/index')
  assert.equal(home.data.unreadCount, 25)
  assert.equal(home.text('#unread-badge'), '25')

  const centre = await openPage('/pages/messages/index')
  assert.equal(centre.data.items.length, 20, 'the first page')
  assert.equal(centre.data.unreadCount, 25)
  assert.ok(centre.text('#unread').includes('25'))
  await centre.tap('#more')
  assert.equal(centre.data.items.length, 25)
  assert.equal(centre.has('#more'), false)
  assert.deepEqual(centre.data.items.map((m) => m.id), added.map((m) => m.id).reverse())

  const newest = added[added.length - 1]
  await centre.tap(`#message-${newest.id}`)
  assert.deepEqual(posts('/me/messages/read').pop().body, { ids: [newest.id] })
  assert.equal(centre.data.unreadCount, 24)
  assert.equal(centre.data.items[0].read, true)
  assert.deepEqual(bridge.lastNavigation(), { type: 'navigateTo', url: `/${newest.link}` })
  await centre.tap(`#message-${newest.id}`) // opening it again marks nothing
  assert.equal(posts('/me/messages/read').length, 1)

  await centre.tap('#read-all')
  assert.deepEqual(posts('/me/messages/read').pop().body, {})
  assert.equal(centre.data.unreadCount, 0)
  assert.equal(centre.has('#read-all'), false)
  assert.ok(centre.data.items.every((m) => m.read))
  const again = await openPage('/pages/home/index')
  assert.equal(again.has('#unread-badge'), false)
})

test('a dispatched trip shows the plate, the driver and the phone, fleet or provider', async () => {
  await signIn('demo-traveler')
  const fleetTrip = addTrip({ state: 'dispatched' })
  backend.state.dispatch.set(fleetTrip.id, { trip_id: fleetTrip.id, state: 'dispatched', provider_order: null, assignments: [
    { id: 1, active: false, vehicle: { plate: '苏DG1001' }, driver: { name: '老司机', phone: '13900000009' } },
    { id: 2, active: true, vehicle: { plate: '苏DD1002' }, driver: { name: '钱进', phone: '13900000001' } },
  ] })
  const detail = await openPage(`/pages/trip/detail?id=${fleetTrip.id}`)
  assert.equal(detail.text('#plate'), '苏DD1002')
  assert.equal(detail.text('#driver'), '钱进')
  await detail.tap('#driver-phone')
  assert.deepEqual(bridge.state.phoneCalls, ['13900000001'])

  const rideTrip = addTrip({ state: 'dispatched', channel: 'ridehail' })
  backend.state.dispatch.set(rideTrip.id, { trip_id: rideTrip.id, state: 'dispatched', assignments: [],
    provider_order: { provider: 'ridehail', plate: '苏D·T0001', driver_name: '王师傅', driver_phone: '13800001111' } })
  const ride = await openPage(`/pages/trip/detail?id=${rideTrip.id}`)
  assert.equal(ride.text('#plate'), '苏D·T0001')
  assert.equal(ride.text('#driver-phone'), '13800001111')

  const pending = addTrip({ state: 'approved' })
  const waiting = await openPage(`/pages/trip/detail?id=${pending.id}`)
  assert.equal(waiting.has('#crew'), false, 'no crew before dispatch')
})

test('the delegation screen sets a delegate for a period and revokes it', async () => {
  await signIn('demo-approver')
  const page = await openPage('/pages/approval/delegation')
  await page.tap('#create')
  assert.ok(bridge.state.toasts.includes('请填写被委托人编号'))
  await page.input('#delegate-id', '7')
  await page.change('#start-date', '2026-12-01')
  await page.change('#start-time', '08:00')
  await page.change('#end-date', '2026-12-03')
  await page.change('#end-time', '18:00')
  await page.tap('#create')
  assert.equal(page.data.error, '')
  const sent = posts('/delegations').pop()
  assert.deepEqual(sent.body, { delegate_id: 7, starts_at: '2026-12-01T08:00:00+08:00',
    ends_at: '2026-12-03T18:00:00+08:00' })
  assert.ok(sent.key, 'sent with an Idempotency-Key')
  assert.equal(page.data.items.length, 1)
  assert.ok(page.text('#delegation-0').includes('生效中'))
  await page.tap('#revoke-0')
  assert.ok(posts(`/delegations/${page.data.items[0].id}/revoke`).length === 1)
  assert.ok(page.text('#delegation-0').includes('已撤销'))
  assert.equal(page.has('#revoke-0'), false)
})

test('the approval inbox links to the delegation screen', async () => {
  await signIn('demo-approver')
  const inbox = await openPage('/pages/approval/inbox')
  await inbox.tap('#delegations')
  assert.deepEqual(bridge.lastNavigation(), { type: 'navigateTo', url: '/pages/approval/delegation' })
})
