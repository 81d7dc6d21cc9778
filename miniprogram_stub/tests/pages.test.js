// Each page under miniprogram-simulate against an in-memory fake of the HTTP contract:
// what the page sends, what it shows, how it shows the backend's errors.
const test = require('node:test')
const assert = require('node:assert/strict')
const { bridge, openPage } = require('./helpers/miniapp')
const pages = require('./helpers/pages')
const { signIn } = pages
const { startFakeBackend } = require('./helpers/fake-backend')

let backend
test.before(async () => {
  backend = await startFakeBackend()
  bridge.setBaseUrl(backend.baseUrl)
})
test.after(() => backend.close())

function lastPost(path) {
  const found = backend.state.posted.filter((p) => p.path === path)
  return found[found.length - 1]
}

function addTrip(fields) {
  return pages.addTrip(backend, fields)
}

// A pending approval task of the trip, assigned to demo-approver (id 2).
function addTask(trip) {
  const task = { id: backend.state.seq += 1, trip_id: trip.id, step: 1, state: 'pending', assignee_id: 2 }
  backend.state.tasks.set(task.id, task)
  return task
}

test('login of an unbound openid asks for the phone and binds with its code', async () => {
  bridge.useUser('new-user')
  const login = await openPage('/pages/login/index')
  assert.equal(login.has('#bind'), false)

  await login.tap('#login')
  assert.equal(login.data.needBind, true)
  assert.equal(login.data.ticket, 'ticket-new-user')
  assert.ok(login.has('#bind'), 'the getPhoneNumber button appears')
  assert.equal(bridge.lastNavigation(), null)

  await login.trigger('#bind', 'getphonenumber', { errMsg: 'getPhoneNumber:fail user deny' })
  assert.ok(bridge.state.toasts.includes('需要授权手机号才能完成绑定'))
  assert.equal(lastPost('/auth/bind'), undefined)

  await login.trigger('#bind', 'getphonenumber', { code: 'sandbox-phone:13800000009' })
  assert.deepEqual(lastPost('/auth/bind').body, { ticket: 'ticket-new-user', phone_code: 'sandbox-phone:13800000009' })
  assert.ok(lastPost('/auth/bind').key, 'bind carries an Idempotency-Key')
  assert.match(wx.getStorageSync('auth_token'), /^tok-9-/)
  assert.deepEqual(bridge.lastNavigation(), { type: 'reLaunch', url: '/pages/home/index' })
})

test('binding a phone nobody registered shows the backend message', async () => {
  bridge.useUser('stranger')
  const login = await openPage('/pages/login/index')
  await login.tap('#login')
  await login.trigger('#bind', 'getphonenumber', { code: 'sandbox-phone:13999999999' })
  assert.equal(login.data.error, '该手机号未登记，请联系管理员')
  assert.equal(login.text('#error'), '该手机号未登记，请联系管理员')
  assert.ok(bridge.state.toasts.includes('该手机号未登记，请联系管理员'))
})

test('home shows the entries of the user roles', async () => {
  await signIn('demo-approver')
  const home = await openPage('/pages/home/index')
  assert.deepEqual(home.data.entries.map((e) => e.id), ['approvals', 'messages'])
  assert.ok(home.text().includes('王科长'))
  await home.tap('#entry-approvals')
  assert.deepEqual(bridge.lastNavigation(), { type: 'navigateTo', url: '/pages/approval/inbox' })
})

test('new trip form sends the contract body, with an added stop before the destination', async () => {
  await signIn('demo-traveler')
  const form = await openPage('/pages/trip/new')
  await form.input('#stop-0-name', '市政府')
  await form.input('#stop-0-lat', '31.8107')
  await form.input('#stop-0-lng', '119.9741')
  await form.input('#stop-1-name', '规划馆')
  await form.input('#stop-1-lat', '31.7806')
  await form.input('#stop-1-lng', '119.9585')
  await form.tap('#add-stop')
  assert.equal(form.data.form.stops.length, 3)
  assert.equal(form.data.form.stops[2].name, '规划馆', 'the destination stays last')
  await form.input('#stop-1-name', '市民广场')
  await form.input('#stop-1-lat', '31.7900')
  await form.input('#stop-1-lng', '119.9600')
  await form.change('#depart-date', '2026-11-26')
  await form.change('#depart-time', '09:00')
  await form.change('#return-date', '2026-11-26')
  await form.change('#return-time', '12:00')
  await form.input('#passenger-0', '张三')
  await form.tap('#add-passenger')
  await form.input('#passenger-1', '  ')
  await form.change('#purpose', '1')
  await form.input('#purpose-text', '调研城市更新项目')
  await form.change('#vehicle', '2')

  await form.tap('#submit')

  assert.equal(form.data.error, '')
  const sent = lastPost('/trips')
  assert.deepEqual(sent.body, {
    purpose: { category: 'inspection', text: '调研城市更新项目' },
    passengers: [{ name: '张三' }],
    stops: [
      { name: '市政府', lat: 31.8107, lng: 119.9741 },
      { name: '市民广场', lat: 31.79, lng: 119.96 },
      { name: '规划馆', lat: 31.7806, lng: 119.9585 },
    ],
    depart_at: '2026-11-26T09:00:00+08:00',
    return_at: '2026-11-26T12:00:00+08:00',
    vehicle_class: 'mpv',
  })
  assert.ok(sent.key)
  const nav = bridge.lastNavigation()
  assert.equal(nav.type, 'navigateTo')
  assert.match(nav.url, /^\/pages\/trip\/offers\?trip_id=\d+$/)
})

test('a backend validation error is shown in Chinese and nothing navigates', async () => {
  await signIn('demo-traveler')
  backend.state.tripValidation = {
    code: 'validation_error', message: '返回时间必须晚于出发时间', status: 422, errors: { return_at: ['必须晚于出发时间'] },
  }
  try {
    const form = await openPage('/pages/trip/new')
    await form.tap('#submit')
    const firstKey = lastPost('/trips').key
    assert.equal(form.text('#error'), '返回时间：必须晚于出发时间')
    assert.ok(bridge.state.toasts.includes('返回时间：必须晚于出发时间'))
    assert.equal(bridge.lastNavigation().url, '/pages/home/index', 'still on the form after login')
    await form.tap('#submit')
    assert.notEqual(lastPost('/trips').key, firstKey, 'an answered action does not reuse its key')
  } finally {
    backend.state.tripValidation = null
  }
})

test('the toast names the first wrong field of a nested list in Chinese', async () => {
  await signIn('demo-traveler')
  backend.state.tripValidation = {
    code: 'validation_error', message: '提交的数据不合法', status: 422,
    errors: { passengers: { 1: { name: ['长度应在 1 到 40 之间'] } }, stops: { 0: { lat: ['应为数字'] } } },
  }
  try {
    const form = await openPage('/pages/trip/new')
    await form.tap('#submit')
    assert.equal(form.text('#error'), '乘车人第2项 姓名：长度应在 1 到 40 之间')
    assert.ok(bridge.state.toasts.includes('乘车人第2项 姓名：长度应在 1 到 40 之间'))
  } finally {
    backend.state.tripValidation = null
  }
})

test('offers show price strings, compliance reasons, provider statuses, and submit the chosen one', async () => {
  await signIn('demo-traveler')
  const trip = addTrip({ state: 'draft' })
  const offers = await openPage(`/pages/trip/offers?trip_id=${trip.id}`)

  assert.equal(offers.data.offers.length, 2)
  assert.equal(offers.data.selectedId, 'off-fleet', 'the recommended offer starts selected')
  const shown = offers.text()
  assert.ok(shown.includes('¥480.00') && shown.includes('¥60.00'))
  assert.ok(offers.text('#offer-0').includes('超出框架协议限价'))
  assert.ok(offers.text('#offer-0').includes('不合规'))
  assert.ok(offers.text('#offer-1').includes('推荐') && offers.text('#offer-1').includes('新能源'))
  assert.ok(shown.includes('超时（3000 ms）'))

  await offers.tap('#offer-0')
  assert.equal(offers.data.selectedId, 'off-rent')
  await offers.tap('#offer-1')
  await offers.tap('#submit')
  assert.deepEqual(lastPost(`/trips/${trip.id}/submit`).body, { offer_id: 'off-fleet' })
  assert.deepEqual(bridge.lastNavigation(), { type: 'redirectTo', url: `/pages/trip/detail?id=${trip.id}` })
})

test('trip detail shows history and cancels with a reason', async () => {
  await signIn('demo-traveler')
  const trip = addTrip({
    state: 'pending_approval',
    history: [{ state: 'draft', at: '2026-11-25T01:00:00Z', actor_id: 1, comment: null },
      { state: 'pending_approval', at: '2026-11-25T01:05:00Z', actor_id: 1, comment: null }],
  })
  const detail = await openPage(`/pages/trip/detail?id=${trip.id}`)
  assert.equal(detail.text('#state'), '待审批')
  assert.ok(detail.text().includes('2026-11-26 09:00'), 'times shown in Beijing time')
  assert.ok(detail.text().includes('2026-11-25 09:05'))

  await detail.tap('#cancel')
  assert.ok(bridge.state.toasts.includes('请填写取消原因'))
  assert.equal(lastPost(`/trips/${trip.id}/cancel`), undefined)

  await detail.input('#cancel-reason', '会议延期')
  await detail.tap('#cancel')
  assert.deepEqual(lastPost(`/trips/${trip.id}/cancel`).body, { reason: '会议延期' })
  assert.equal(detail.data.trip.state, 'cancelled')
  assert.equal(detail.has('#cancel'), false)
})

test('trip detail shows cancel only when allowed_actions has it, whatever the state', async () => {
  await signIn('demo-traveler')
  const mine = addTrip({ state: 'approved' })
  const notMine = addTrip({ state: 'approved', allowed_actions: [] })

  const detail = await openPage(`/pages/trip/detail?id=${mine.id}`)
  assert.deepEqual(detail.data.trip.allowed_actions, ['cancel'])
  assert.ok(detail.has('#cancel') && detail.has('#cancel-reason'))
  assert.equal(detail.has('#withdraw'), false, 'an approved trip is not withdrawn')

  const other = await openPage(`/pages/trip/detail?id=${notMine.id}`)
  assert.equal(other.text('#state'), '已批准', 'same state')
  assert.equal(other.has('#cancel'), false)
  assert.equal(other.has('#cancel-reason'), false)

  // A finished state with cancel still allowed (the backend decides) shows it too.
  const odd = addTrip({ state: 'completed', allowed_actions: ['cancel'] })
  const shown = await openPage(`/pages/trip/detail?id=${odd.id}`)
  assert.ok(shown.has('#cancel'))
})

test('trip detail withdraws a pending trip with a reason; a draft offers quoting', async () => {
  await signIn('demo-traveler')
  const pending = addTrip({ state: 'pending_approval' })
  const task = addTask(pending)
  const detail = await openPage(`/pages/trip/detail?id=${pending.id}`)
  assert.ok(detail.has('#withdraw') && detail.has('#cancel'))
  assert.equal(detail.has('#quote'), false)

  await detail.tap('#withdraw')
  assert.ok(bridge.state.toasts.includes('请填写撤回原因'))
  assert.equal(lastPost(`/trips/${pending.id}/withdraw`), undefined)
  await detail.input('#withdraw-reason', '行程有变')
  await detail.tap('#withdraw')
  assert.deepEqual(lastPost(`/trips/${pending.id}/withdraw`).body, { reason: '行程有变' })
  assert.ok(lastPost(`/trips/${pending.id}/withdraw`).key, 'withdraw carries an Idempotency-Key')
  assert.equal(detail.text('#state'), '已撤回')
  assert.equal(detail.has('#withdraw'), false)
  assert.equal(detail.has('#cancel'), false)
  assert.equal(backend.state.tasks.get(task.id).state, 'cancelled')

  const draft = addTrip({ state: 'draft' })
  const drafted = await openPage(`/pages/trip/detail?id=${draft.id}`)
  assert.equal(drafted.has('#withdraw'), false)
  await drafted.tap('#quote')
  assert.deepEqual(bridge.lastNavigation(), { type: 'navigateTo', url: `/pages/trip/offers?trip_id=${draft.id}` })
})

test('a trip whose price changed shows both prices; the traveler accepts and it is approved again', async () => {
  await signIn('demo-traveler')
  const trip = addTrip({ state: 'price_changed', estimate: '180.00', price_change: {
    approved_estimate: '180.00', new_price: '260.00', offer_id: 77, provider: 'rental-a',
    reason: '报价已过期，新报价超出批准金额的容差' } })
  const detail = await openPage(`/pages/trip/detail?id=${trip.id}`)
  assert.equal(detail.text('#state'), '待确认新价')
  assert.equal(detail.text('#approved-estimate'), '¥180.00')
  assert.equal(detail.text('#new-price'), '¥260.00')
  assert.ok(detail.has('#accept-price') && detail.has('#cancel'), 'accept or decline by cancelling')

  await detail.tap('#accept-price')
  const posted = lastPost(`/trips/${trip.id}/accept-price`)
  assert.equal(detail.data.error, '')
  assert.ok(posted && posted.key, 'accept-price carries an Idempotency-Key')
  assert.equal(detail.text('#state'), '已批准')
  assert.equal(detail.has('#price-change'), false)
  assert.equal(detail.has('#accept-price'), false)

  // Another traveler's view of such a trip (no accept_price allowed) has no button.
  const other = addTrip({ state: 'price_changed', allowed_actions: [], price_change: {
    approved_estimate: '180.00', new_price: null, offer_id: null, provider: 'rental-a', reason: '' } })
  const shown = await openPage(`/pages/trip/detail?id=${other.id}`)
  assert.equal(shown.text('#new-price'), '该车型已无报价')
  assert.equal(shown.has('#accept-price'), false)
})

test('approval detail offers approve and reject only as the task allowed_actions say', async () => {
  const trip = addTrip({ state: 'pending_approval' })
  const task = addTask(trip)
  await signIn('demo-platform-approver')
  const notAssignee = await openPage(`/pages/approval/detail?task_id=${task.id}`)
  assert.equal(notAssignee.data.task.state, 'pending', 'the task is still pending')
  assert.equal(notAssignee.has('#approve'), false)
  assert.equal(notAssignee.has('#reject'), false)
  assert.ok(notAssignee.text('#done').includes('待审批'))

  await signIn('demo-approver')
  const detail = await openPage(`/pages/approval/detail?task_id=${task.id}`)
  assert.ok(detail.has('#approve') && detail.has('#reject'))
  await detail.input('#comment', '同意')
  await detail.tap('#approve')
  assert.deepEqual(lastPost(`/approvals/${task.id}/approve`).body, { comment: '同意' })
  assert.ok(bridge.state.toasts.includes('已同意'))
  assert.equal(detail.data.done, true)
  assert.equal(detail.has('#approve'), false)
  assert.ok(detail.text('#done').includes('已同意'))
  assert.equal(detail.data.trip.state, 'approved', 'the trip is read again after the decision')
})

test('approval detail with only reject allowed shows no approve button', async () => {
  const trip = addTrip({ state: 'pending_approval' })
  const task = addTask(trip)
  await signIn('demo-approver')
  backend.state.tasks.set(task.id, Object.assign(task, { allowed_actions: ['reject'] }))
  const detail = await openPage(`/pages/approval/detail?task_id=${task.id}`)
  assert.equal(detail.has('#approve'), false)
  assert.equal(detail.has('#comment'), false)
  assert.ok(detail.has('#reject') && detail.has('#reason'))
})

test('approval detail opened from a message: reject needs a reason; a handled task says so', async () => {
  const trip = addTrip({ state: 'pending_approval' })
  const task = addTask(trip)
  await signIn('demo-approver')

  const detail = await openPage(`/pages/approval/detail?task_id=${task.id}`)
  assert.equal(detail.data.trip.id, trip.id)
  assert.ok(detail.text().includes('市政府 → 规划馆'))
  await detail.tap('#reject')
  assert.ok(bridge.state.toasts.includes('请填写驳回理由'))
  await detail.input('#reason', '无需用车')
  await detail.tap('#reject')
  assert.deepEqual(lastPost(`/approvals/${task.id}/reject`).body, { reason: '无需用车' })
  assert.ok(detail.has('#done'))

  const again = await openPage(`/pages/approval/detail?task_id=${task.id}`)
  assert.equal(again.data.done, true)
  assert.equal(again.has('#approve'), false)
})

test('charge page shows amounts as sent and confirms', async () => {
  await signIn('demo-traveler')
  const trip = addTrip({ state: 'completed' })
  backend.state.charge = {
    lines: [{ kind: 'time_block', description: '轿车 ≤4 小时', amount: '60.00' },
      { kind: 'parking', description: '停车费', amount: '10.00' },
      { kind: 'toll', description: '通行费（实报实销）', amount: '8.00' }],
    total: '78.00',
    final: false,
  }
  const charge = await openPage(`/pages/trip/charge?id=${trip.id}`)
  assert.equal(charge.text('#total'), '¥78.00')
  assert.ok(charge.text().includes('时段费') && charge.text().includes('¥10.00'))
  assert.deepEqual(charge.data.charge.lines.map((l) => l.kindLabel), ['时段费', '停车费', '通行费'])
  await charge.tap('#confirm')
  assert.ok(lastPost(`/trips/${trip.id}/confirm`))
  assert.equal(charge.data.charge.final, true)
  assert.equal(charge.has('#confirm'), false)
})

test('charge page offers confirm and dispute as the trip allowed_actions say', async () => {
  await signIn('demo-traveler')
  backend.state.charge = { lines: [{ kind: 'time_block', description: '轿车 ≤4 小时', amount: '60.00' }], total: '60.00', final: false }
  const trip = addTrip({ state: 'completed' })
  const charge = await openPage(`/pages/trip/charge?id=${trip.id}`)
  assert.ok(charge.has('#confirm') && charge.has('#dispute'))

  await charge.tap('#dispute')
  assert.ok(bridge.state.toasts.includes('请填写异议原因'))
  await charge.input('#dispute-reason', '里程不符')
  await charge.tap('#dispute')
  assert.deepEqual(lastPost(`/trips/${trip.id}/dispute`).body, { reason: '里程不符' })
  assert.equal(charge.has('#dispute'), false, 'one open dispute at a time')
  assert.ok(charge.has('#confirm'), 'the passenger may still confirm')

  // Same completed trip and provisional charge, seen by someone the backend lets do nothing.
  const other = addTrip({ state: 'completed', allowed_actions: [] })
  const view = await openPage(`/pages/trip/charge?id=${other.id}`)
  assert.equal(view.text('#total'), '¥60.00')
  assert.equal(view.has('#confirm'), false)
  assert.equal(view.has('#dispute'), false)
})

test('driver starts and finishes a task; odometer readings and money go out as strings', async () => {
  const trip = addTrip({ state: 'dispatched' })
  await signIn('demo-driver')
  const tasks = await openPage('/pages/driver/tasks')
  const index = tasks.data.tasks.findIndex((t) => t.tripId === trip.id)
  assert.ok(index >= 0)

  await tasks.tap(`#task-${index}`)
  assert.equal(tasks.has('#finish'), false, 'a dispatched trip cannot be finished yet')
  await tasks.input('#start-km', '12030.5')
  await tasks.tap('#start')
  assert.deepEqual(lastPost(`/trips/${trip.id}/start`).body, { odometer_km: '12030.5' })

  const again = tasks.data.tasks.findIndex((t) => t.tripId === trip.id)
  await tasks.tap(`#task-${again}`)
  assert.equal(tasks.has('#start'), false, 'a started trip is not started again')
  await tasks.input('#finish-km', '12280')
  await tasks.input('#finish-tolls', '85.50')
  await tasks.input('#finish-parking', '10')
  await tasks.input('#finish-waiting', '75')
  await tasks.tap('#finish')
  assert.deepEqual(lastPost(`/trips/${trip.id}/finish`).body, {
    odometer_km: '12280', tolls: '85.50', parking: '10', lodging: '0.00', waiting_minutes: 75,
  })
  assert.equal(tasks.data.error, '')
})

test('driver task with only finish allowed shows the finish form and no start form', async () => {
  const trip = addTrip({ state: 'in_progress' })
  await signIn('demo-driver')
  const tasks = await openPage('/pages/driver/tasks')
  const index = tasks.data.tasks.findIndex((t) => t.tripId === trip.id)
  assert.deepEqual(tasks.data.tasks[index].allowed_actions, ['finish'])

  await tasks.tap(`#task-${index}`)
  assert.equal(tasks.has('#start'), false)
  assert.equal(tasks.has('#start-km'), false)
  assert.ok(tasks.has('#finish') && tasks.has('#finish-km'))

  await tasks.tap('#finish')
  assert.ok(bridge.state.toasts.includes('请填写结束里程'))
  assert.equal(lastPost(`/trips/${trip.id}/finish`), undefined, 'no finish without a reading')
})

test('driver task the backend allows nothing on shows neither form', async () => {
  const trip = addTrip({ state: 'dispatched', allowed_actions: [] })
  await signIn('demo-driver')
  const tasks = await openPage('/pages/driver/tasks')
  await tasks.tap(`#task-${tasks.data.tasks.findIndex((t) => t.tripId === trip.id)}`)
  assert.equal(tasks.has('#start'), false)
  assert.equal(tasks.has('#finish'), false)
  assert.equal(tasks.text('#no-action'), '该任务当前无需操作')
})

test('my trips lists the traveler trips with Chinese states', async () => {
  await signIn('demo-traveler')
  const list = await openPage('/pages/trip/list')
  assert.ok(list.data.items.length > 0)
  assert.ok(list.text().includes('已取消'))
  await list.tap('#trip-0')
  assert.match(bridge.lastNavigation().url, /^\/pages\/trip\/detail\?id=\d+$/)
})
