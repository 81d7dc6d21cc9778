// The console end to end: Debian's headless Chromium against a live devserver on the demo data.
// Run with `npm run e2e` (after `npm run build`); screenshots go to var/screenshots/.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { PASSWORD, apiClient, approvedFleetTrip, downloaded, launchBrowser, shot, startBackend, workbookSheets } from './harness.mjs'

let backend
let browser
let api

before(async () => {
  backend = await startBackend()
  api = apiClient(backend.url)
  browser = await launchBrowser()
}, { timeout: 180000 })

after(async () => {
  if (browser) await browser.close()
  if (backend) await backend.stop()
})

/** A fresh browser context (its own sessionStorage) signed in through the form. */
async function signedIn(username, password = PASSWORD) {
  const context = await browser.createBrowserContext()
  const page = await context.newPage()
  page.setDefaultTimeout(20000)
  const errors = []
  page.on('pageerror', (err) => errors.push(err))
  page.errors = errors
  await page.goto(`${backend.url}/console/login`, { waitUntil: 'networkidle0' })
  await page.type('input[name=username]', username)
  await page.type('input[name=password]', password)
  await page.click('[data-test=sign-in]')
  await page.waitForFunction(() => !location.pathname.endsWith('/login'))
  return page
}

const textOf = (page, selector) => page.$eval(selector, (el) => el.innerText)

/** Click the visible element matching ``selector`` whose text contains ``text``. */
async function clickText(page, selector, text) {
  await page.waitForFunction((sel, t) => [...document.querySelectorAll(sel)]
    .some((el) => el.offsetParent !== null && el.innerText.includes(t)), {}, selector, text)
  await page.evaluate((sel, t) => {
    const el = [...document.querySelectorAll(sel)].find((e) => e.offsetParent !== null && e.innerText.includes(t))
    el.click()
  }, selector, text)
}

/** Choose ``text`` in the Element Plus select marked data-field=``field``. */
async function choose(page, field, text) {
  await page.click(`[data-field=${field}] .el-select__wrapper`)
  await clickText(page, '.el-select-dropdown__item', text)
}

async function confirmBox(page) {
  await page.waitForSelector('.el-message-box__btns .el-button--primary', { visible: true })
  await page.click('.el-message-box__btns .el-button--primary')
  await page.waitForSelector('.el-message-box', { hidden: true })
}

test('every console role signs in and lands on its screen', async () => {
  const expected = {
    'demo-dispatcher': ['/console/dispatch', '调度台'],
    'demo-finance': ['/console/trips', '结算与对账'],
    'demo-unit-finance': ['/console/trips', '结算与对账'],
    'demo-supervisor': ['/console/trips', '监督检查'],
    'demo-admin': ['/console/trips', '系统管理'],
    'demo-approver': ['/console/trips', '行程查询'],
  }
  for (const [who, [landing, menu]] of Object.entries(expected)) {
    const page = await signedIn(who)
    assert.equal(new URL(page.url()).pathname, landing, who)
    await page.waitForSelector('.who')
    assert.match(await textOf(page, 'aside'), new RegExp(menu), who)
    await shot(page, `signin-${who}`)
    assert.deepEqual(page.errors, [], who)
    await page.browserContext().close()
  }
  // A wrong password is refused on the form, in Chinese.
  const context = await browser.createBrowserContext()
  const page = await context.newPage()
  await page.goto(`${backend.url}/console/login`, { waitUntil: 'networkidle0' })
  await page.type('input[name=username]', 'demo-dispatcher')
  await page.type('input[name=password]', 'wrong-password-1')
  await page.click('[data-test=sign-in]')
  await page.waitForSelector('[data-test=login-error]')
  assert.match(await textOf(page, '[data-test=login-error]'), /用户名或密码错误/)
  await shot(page, 'login-refused')
  await context.close()
})

test('a dispatcher assigns a queued trip and sees it on the timeline', async () => {
  const trip = await approvedFleetTrip(api)
  const page = await signedIn('demo-dispatcher')
  await page.waitForSelector(`[data-assign="${trip.id}"]`)
  const queueText = await textOf(page, '[data-test=queue]')
  assert.match(queueText, /张明 13800000001/)   // applicant with phone
  assert.match(queueText, /李四 13912345678/)   // passenger with phone
  assert.match(queueText, /市民广场 → 武进区政府/)
  await shot(page, 'dispatch-queue')
  await page.click(`[data-assign="${trip.id}"]`)
  await page.waitForSelector('[data-test=assign-submit]', { visible: true })
  await shot(page, 'dispatch-assign-dialog')
  await page.click('[data-test=assign-submit]')          // the suggested auto-assignment
  await page.waitForSelector(`[data-test=timeline-vehicles] .gantt-bar[data-trip="${trip.id}"]`, { visible: true })
  await page.waitForFunction((id) => !document.querySelector(`[data-assign="${id}"]`), {}, trip.id)
  const picked = await page.$eval('[data-test=day]', (el) => el.getAttribute('data-day'))
  assert.equal(picked, trip.day)
  await shot(page, 'dispatch-timeline-vehicles')
  await clickText(page, '.el-tabs__item', '驾驶员')
  await page.waitForSelector(`[data-test=timeline-drivers] .gantt-bar[data-trip="${trip.id}"]`, { visible: true })
  await shot(page, 'dispatch-timeline-drivers')
  // The live map on the board itself.
  await clickText(page, '.el-tabs__item', '实时位置')
  await page.waitForSelector('[data-test=live-map] .vehicle-marker')
  assert.ok(await page.$$eval('[data-test=live-map] .vehicle-marker', (els) => els.length) > 0)
  await shot(page, 'dispatch-live-map')
  // The trip page shows history, approval, assignment and the route map.
  await page.goto(`${backend.url}/console/trips/${trip.id}`, { waitUntil: 'networkidle0' })
  await page.waitForSelector('[data-test=history]')
  assert.match(await textOf(page, '[data-test=history]'), /已派车/)
  await page.waitForSelector('[data-test=trip-map] .leaflet-interactive')
  await shot(page, 'trip-detail')
  // Unassign from the trip page (with a reason), then let the system assign it again.
  await page.click('[data-trip-action=unassign]')
  await page.waitForSelector('.el-message-box input', { visible: true })
  await page.type('.el-message-box input', '车辆临时检修')
  await confirmBox(page)
  await page.waitForFunction(() => document.querySelector('[data-test=trip-actions]').innerText.includes('自动派车'))
  await clickText(page, '[data-test=trip-actions] button', '自动派车')
  await page.waitForSelector('[data-trip-action=unassign]')
  assert.match(await textOf(page, '[data-test=history]'), /车辆临时检修/)
  await page.goto(`${backend.url}/console/trips`, { waitUntil: 'networkidle0' })
  await page.waitForSelector('[data-test=trips] .el-table__row')
  await shot(page, 'trips-search')
  assert.deepEqual(page.errors, [])
  await page.browserContext().close()
})

test('finance generates, exports and closes a period', async () => {
  const page = await signedIn('demo-finance')
  await page.goto(`${backend.url}/console/finance`, { waitUntil: 'networkidle0' })
  await page.click('[data-test=generate]')
  await page.waitForSelector('[data-test=statements] .el-table__row')
  const rows = await page.$$eval('[data-test=statements] .el-table__row', (els) => els.length)
  assert.ok(rows >= 2, `statements: ${rows}`)
  await page.waitForSelector('[data-test=supplier-chart] canvas')
  await shot(page, 'finance-statements')

  // The whole period as one workbook: it downloads and opens.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otb-console-dl-'))
  const cdp = await page.createCDPSession()
  await cdp.send('Browser.setDownloadBehavior', {
    behavior: 'allow', downloadPath: dir, browserContextId: page.browserContext().id })
  await page.click('[data-test=period-xlsx]')
  const file = await downloaded(dir)
  assert.match(path.basename(file), /^结算单-\d{4}-\d{2}\.xlsx$/)
  const sheets = workbookSheets(file)
  assert.ok(sheets.includes('fleet'), sheets.join(','))

  // Lines with the facts of their trips.
  const drc = await page.evaluate(() => {
    const row = [...document.querySelectorAll('[data-test=statements] .el-table__row')]
      .find((r) => r.innerText.includes('常州市发展和改革委员会') && r.innerText.includes('fleet'))
    return row.querySelector('[data-lines]').getAttribute('data-lines')
  })
  await page.click(`[data-lines="${drc}"]`)
  await page.waitForSelector('[data-test=lines] .el-table__row', { visible: true })
  const lines = await textOf(page, '[data-test=lines]')
  assert.match(lines, /→/)
  assert.match(lines, /1380000000\d/)
  await shot(page, 'finance-lines')
  await page.keyboard.press('Escape')
  await page.waitForSelector('[data-test=lines]', { hidden: true })

  // Issue (platform finance) → confirm (the paying unit's finance) → close (platform finance).
  await page.click(`[data-action="issue-${drc}"]`)
  await confirmBox(page)
  await page.waitForSelector(`[data-action="close-${drc}"], [data-state=pending_confirmation]`)
  const unit = await signedIn('demo-unit-finance')
  await unit.goto(`${backend.url}/console/finance`, { waitUntil: 'networkidle0' })
  await unit.waitForSelector(`[data-action="confirm-${drc}"]`)
  await unit.click(`[data-action="confirm-${drc}"]`)
  await confirmBox(unit)
  await unit.waitForFunction((id) => !document.querySelector(`[data-action="confirm-${id}"]`), {}, drc)
  await shot(unit, 'finance-unit-confirmed')
  await unit.browserContext().close()

  await page.reload({ waitUntil: 'networkidle0' })
  await page.waitForSelector(`[data-action="close-${drc}"]`)
  await page.click(`[data-action="close-${drc}"]`)
  await confirmBox(page)
  await page.waitForFunction((id) => {
    const btn = document.querySelector(`[data-lines="${id}"]`)
    return btn && btn.closest('tr').querySelector('[data-state=closed]')
  }, {}, drc)
  await shot(page, 'finance-closed')

  await clickText(page, '.el-tabs__item', '对账')
  await page.waitForSelector('[data-test=rec-history]', { visible: true })
  await shot(page, 'finance-reconciliation')
  await clickText(page, '.el-tabs__item', '超限账单')
  await page.waitForSelector('[data-test=held]', { visible: true })
  await shot(page, 'finance-held')
  assert.deepEqual(page.errors, [])
  await page.browserContext().close()
})

test('an admin creates a vehicle and hands out a console password that must be changed', async () => {
  const page = await signedIn('demo-admin')
  await page.goto(`${backend.url}/console/admin/vehicles`, { waitUntil: 'networkidle0' })
  await page.waitForSelector('[data-test=admin-vehicles] .el-table__row')
  await page.click('[data-test=create-vehicles]')
  await page.waitForSelector('[data-test=form-vehicles] input[name=plate]', { visible: true })
  await page.type('[data-test=form-vehicles] input[name=plate]', '苏D E2E01')
  await choose(page, 'vehicle_class', '商务车')
  await page.$eval('[data-test=form-vehicles] .el-input-number input', (el) => { el.value = '' })
  await page.type('[data-test=form-vehicles] .el-input-number input', '7')
  await page.keyboard.press('Tab')
  await choose(page, 'energy_type', '纯电动')
  await choose(page, 'unit_id', '常州市')
  await shot(page, 'admin-vehicle-form')
  await page.click('[data-test=create-submit]')
  await page.waitForFunction(() => document.querySelector('[data-test=admin-vehicles]').innerText.includes('苏D E2E01'))
  const row = await page.evaluate(() => [...document.querySelectorAll('[data-test=admin-vehicles] .el-table__row')]
    .find((r) => r.innerText.includes('苏D E2E01')).innerText)
  assert.match(row, /商务车/)
  assert.match(row, /纯电动/)
  await shot(page, 'admin-vehicles')

  // A console password for 刘洋 (pre-registered, never signed in).
  await page.goto(`${backend.url}/console/admin/users`, { waitUntil: 'networkidle0' })
  await page.waitForSelector('[data-test=admin-users] .el-table__row')
  const userId = await page.evaluate(() => [...document.querySelectorAll('[data-test=admin-users] .el-table__row')]
    .find((r) => r.innerText.includes('刘洋')).querySelector('[data-reset]').getAttribute('data-reset'))
  await page.click(`[data-reset="${userId}"]`)
  await page.waitForSelector('.el-message-box input', { visible: true })
  await page.type('.el-message-box input', 'liuyang')
  await confirmBox(page)
  await page.waitForSelector('[data-test=otp-password]', { visible: true })
  const otp = await textOf(page, '[data-test=otp-password]')
  await shot(page, 'admin-one-time-password')
  for (const tab of ['units', 'drivers', 'tariffs', 'policies', 'calendar']) {
    await page.goto(`${backend.url}/console/admin/${tab}`, { waitUntil: 'networkidle0' })
    await page.waitForSelector(`[data-test=admin-${tab}]`)
    await shot(page, `admin-${tab}`)
  }
  assert.deepEqual(page.errors, [])
  await page.browserContext().close()

  const first = await signedIn('liuyang', otp)
  assert.equal(new URL(first.url()).pathname, '/console/password')
  await first.type('input[name=old]', otp)
  await first.type('input[name=new]', 'Liuyang2026')
  await first.type('input[name=again]', 'Liuyang2026')
  await shot(first, 'first-login-change-password')
  await first.click('[data-test=change-password]')
  await first.waitForFunction(() => !location.pathname.endsWith('/password'))
  await first.waitForSelector('.who')
  await shot(first, 'first-login-done')
  await first.browserContext().close()
})

test('a supervisor reviews violations and closes a case', async () => {
  const page = await signedIn('demo-supervisor')
  await page.goto(`${backend.url}/console/supervision`, { waitUntil: 'networkidle0' })
  await page.waitForSelector('[data-test=violations] [data-close]')
  await page.waitForSelector('[data-test=violation-chart] canvas')
  await shot(page, 'supervision-violations')
  const id = await page.$eval('[data-test=violations] [data-close]', (el) => el.getAttribute('data-close'))
  await page.click(`[data-close="${id}"]`)
  await page.waitForSelector('[data-test=close-submit]', { visible: true })
  await page.type('textarea[data-test=close-comment], [data-test=close-comment] textarea', '经核查，情况属实')
  await shot(page, 'supervision-case')
  await page.click('[data-test=close-submit]')
  await page.waitForFunction((vid) => {
    const btn = document.querySelector(`[data-open="${vid}"]`)
    return btn && btn.closest('tr').querySelector('[data-vstate=closed]')
  }, {}, id)
  await page.keyboard.press('Escape')
  await shot(page, 'supervision-closed')
  assert.deepEqual(page.errors, [])
  await page.browserContext().close()
})

/** A console token for ``username`` (the demo password), for setting up through the API. */
async function consoleToken(username) {
  return (await api.call('POST', '/auth/password-login', null, { username, password: PASSWORD })).access_token
}

test('a supervisor opens the dashboard: the charts render with the demo data, a report downloads', async () => {
  const page = await signedIn('demo-supervisor')
  await page.goto(`${backend.url}/console/dashboard`, { waitUntil: 'networkidle0' })
  for (const chart of ['nev', 'utilisation', 'savings', 'spend']) {
    await page.waitForSelector(`[data-test=chart-${chart}] canvas`)
    // data-points counts the non-empty series points drawn from the report's answer.
    await page.waitForFunction((c) => Number(document.querySelector(`[data-test=chart-${c}]`).dataset.points) > 0, {}, chart)
  }
  // The demo's vehicles all run far less than 5,000 km: the list below the threshold is filled,
  // and the stationed one is a recall candidate (only admins may recall: no button here).
  // Fuzhou's visitors rode our fleet last month (the demo history): their savings are listed.
  await page.waitForSelector('[data-test=visitor-savings] .el-table__row')
  assert.match(await textOf(page, '[data-test=visitor-savings]'), /福州市公务用车平台/)
  assert.match(await textOf(page, '[data-test=visitor-totals]'), /节约率 \d+\.\d%/)
  await page.waitForSelector('[data-test=below-threshold] .el-table__row')
  assert.match(await textOf(page, '[data-test=below-threshold]'), /可收回/)
  assert.equal(await page.$('[data-recall]'), null)
  await page.waitForSelector('[data-test=lists]')
  assert.match(await textOf(page, '[data-test=lists]'), /红榜/)
  await shot(page, 'supervision-dashboard')

  const dir = mkdtempSync(path.join(os.tmpdir(), 'otb-console-dl-'))
  const cdp = await page.createCDPSession()
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dir, browserContextId: page.browserContext().id })
  await page.click('[data-xlsx="/reports/utilisation"]')
  const file = await downloaded(dir)
  assert.match(path.basename(file), /\.xlsx$/)
  assert.ok(workbookSheets(file).length >= 1)
  // Last quarter is over: the supervisor publishes its lists, once.
  await page.click('[data-test=publish-lists]')
  await confirmBox(page)
  await page.waitForFunction(() => document.querySelector('[data-test=lists]').closest('.el-card').innerText.includes('已发布'))
  assert.equal(await page.$('[data-test=publish-lists]'), null)
  await shot(page, 'supervision-lists-published')
  assert.deepEqual(page.errors, [])
  await page.browserContext().close()
})

test('an admin recalls a stationed vehicle from the dashboard', async () => {
  const page = await signedIn('demo-admin')
  await page.goto(`${backend.url}/console/dashboard`, { waitUntil: 'networkidle0' })
  await page.waitForSelector('[data-test=below-threshold] [data-recall]')
  const id = await page.$eval('[data-test=below-threshold] [data-recall]', (el) => el.getAttribute('data-recall'))
  await page.click(`[data-recall="${id}"]`)
  await page.waitForSelector('.el-message-box input', { visible: true })
  await confirmBox(page)
  await page.waitForFunction((vid) => !document.querySelector(`[data-recall="${vid}"]`), {}, id)
  const vehicle = await api.call('GET', `/admin/vehicles/${id}`, await consoleToken('demo-admin'))
  assert.equal(vehicle.placement, 'pooled')
  assert.deepEqual(page.errors, [])
  await page.browserContext().close()
})

test('the live map shows the demo vehicles and a vehicle track; the trip page shows the run track', async () => {
  for (const who of ['demo-dispatcher', 'demo-supervisor']) {
    const page = await signedIn(who)
    await page.goto(`${backend.url}/console/map`, { waitUntil: 'networkidle0' })
    await page.waitForSelector('[data-test=live-map] .vehicle-marker')
    const markers = await page.$$eval('[data-test=live-map] .vehicle-marker', (els) => els.length)
    assert.ok(markers > 0, `${who}: ${markers} markers`)
    assert.equal(Number(await page.$eval('[data-test=live-map]', (el) => el.dataset.markers)), markers)
    await page.click('[data-test=positions] .el-table__row')
    await page.waitForSelector('[data-test=show-track]', { visible: true })
    await page.click('[data-test=show-track]')
    await page.waitForSelector('[data-test=track-info]')
    assert.match(await textOf(page, '[data-test=track-info]'), /GPS 里程 [\d.]+ km/)
    // The vehicles stay on screen once the map is fitted to the track (a one-point track must not zoom away).
    await page.waitForFunction(() => {
      const box = document.querySelector('[data-test=live-map]').getBoundingClientRect()
      return [...document.querySelectorAll('[data-test=live-map] .vehicle-marker')].some((el) => {
        const r = el.getBoundingClientRect()
        return r.width > 0 && r.left >= box.left && r.right <= box.right && r.top >= box.top && r.bottom <= box.bottom
      })
    })
    await shot(page, `live-map-${who}`)
    assert.deepEqual(page.errors, [])
    await page.browserContext().close()
  }
  // A demo trip that has run: its page shows GPS km beside the odometer km.
  const token = await consoleToken('demo-supervisor')
  let ran = null
  for (let id = 1; id <= 40 && !ran; id++) {
    const track = await api.call('GET', `/trips/${id}/track`, token).catch(() => null)
    if (track && track.started_at && track.odometer_km) ran = track
  }
  assert.ok(ran, 'a demo trip with a run')
  const page = await signedIn('demo-supervisor')
  await page.goto(`${backend.url}/console/trips/${ran.trip_id}`, { waitUntil: 'networkidle0' })
  await page.waitForSelector('[data-test=trip-track]')
  const text = await textOf(page, '[data-test=trip-track]')
  assert.match(text, new RegExp(`里程表 ${ran.odometer_km} km`))
  assert.match(text, /GPS 里程/)
  await shot(page, 'trip-detail-track')
  await page.browserContext().close()
})

test('an admin edits a violation rule and sees partners and vehicle placement', async () => {
  const page = await signedIn('demo-admin')
  await page.goto(`${backend.url}/console/admin/rules`, { waitUntil: 'networkidle0' })
  await page.waitForSelector('[data-edit-rule=distance_overrun]')
  const before = await page.$eval('[data-version=distance_overrun]', (el) => Number(el.innerText))
  await page.click('[data-edit-rule=distance_overrun]')
  await page.waitForSelector('[data-test=form-rule] input[name=min_extra_km]', { visible: true })
  await page.$eval('[data-test=form-rule] input[name=min_extra_km]', (el) => { el.value = '' })
  await page.type('[data-test=form-rule] input[name=min_extra_km]', '25')
  await page.type('[data-test=form-rule] input[name=note]', '端到端测试调整')
  await shot(page, 'admin-rule-form')
  await page.click('[data-test=rule-submit]')
  await page.waitForFunction((v) => Number(document.querySelector('[data-version=distance_overrun]').innerText) === v + 1, {}, before)
  assert.match(await textOf(page, '[data-params=distance_overrun]'), /min_extra_km=25/)
  await shot(page, 'admin-rules')
  // A bad parameter is refused with the API's field error, in the form.
  await page.click('[data-edit-rule=outside_window]')
  await page.waitForSelector('[data-test=form-rule] input[name=early_minutes]', { visible: true })
  await page.$eval('[data-test=form-rule] input[name=early_minutes]', (el) => { el.value = '' })
  await page.type('[data-test=form-rule] input[name=early_minutes]', 'abc')
  await page.click('[data-test=rule-submit]')
  await page.waitForSelector('.el-dialog .el-alert--error', { visible: true })
  await page.keyboard.press('Escape')

  await page.goto(`${backend.url}/console/admin/partners`, { waitUntil: 'networkidle0' })
  await page.waitForSelector('[data-test=admin-partners] .el-table__row')
  assert.match(await textOf(page, '[data-test=admin-partners]'), /福州/)
  await shot(page, 'admin-partners')
  await page.goto(`${backend.url}/console/admin/vehicles`, { waitUntil: 'networkidle0' })
  await page.waitForSelector('[data-test=admin-vehicles] .el-table__row')
  const table = await textOf(page, '[data-test=admin-vehicles]')
  assert.match(table, /统管/)
  assert.match(table, /8600000000000\d\d/)   // the demo's device ids
  await shot(page, 'admin-vehicles-placement')
  // Edit a vehicle's terminal: only the changed field is sent, the table shows it.
  const vid = await page.$eval('[data-test=admin-vehicles] [data-edit]', (el) => el.getAttribute('data-edit'))
  await page.click(`[data-edit="${vid}"]`)
  await page.waitForSelector('[data-test=form-vehicles] input[name=device_id]', { visible: true })
  await page.$eval('[data-test=form-vehicles] input[name=device_id]', (el) => { el.value = '' })
  await page.type('[data-test=form-vehicles] input[name=device_id]', 'E2E-TERMINAL-1')
  await page.click('[data-test=create-submit]')
  await page.waitForFunction(() => document.querySelector('[data-test=admin-vehicles]').innerText.includes('E2E-TERMINAL-1'))
  const edited = await api.call('GET', `/admin/vehicles/${vid}`, await consoleToken('demo-admin'))
  assert.equal(edited.device_id, 'E2E-TERMINAL-1')
  assert.deepEqual(page.errors, [])
  await page.browserContext().close()
})
