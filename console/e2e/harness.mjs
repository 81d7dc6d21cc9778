// End-to-end harness: a live devserver on the demo data (a subprocess on free ports, a fresh
// SQLite file) and Debian's headless Chromium driven by puppeteer-core.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, existsSync, readdirSync, statSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import puppeteer from 'puppeteer-core'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const SHOTS = path.join(ROOT, 'var', 'screenshots')
export const PASSWORD = 'e2e-Demo-2026'
const PYTHON = process.env.PYTHON || path.join(ROOT, '.venv', 'bin', 'python')
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer().once('error', () => resolve(false))
      .once('listening', () => srv.close(() => resolve(true))).listen(port, '127.0.0.1')
  })
}

/** The first of ``size`` consecutive free ports at or above ``from``. */
export async function freePorts(from, size) {
  for (let base = from; base < from + 2000; base += size) {
    let ok = true
    for (let p = base; p < base + size && ok; p++) ok = await portFree(p)
    if (ok) return base
  }
  throw new Error('no free ports')
}

export async function startBackend() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otb-console-e2e-'))
  const port = await freePorts(Number(process.env.E2E_PORT_BASE || 18850), 1)
  // The sandboxes take SANDBOX_PORT_BASE + 0 … + 9 (providers/sandbox/runner.py PORT_BLOCK).
  const sandboxBase = await freePorts(port + 1, 10)
  const env = {
    ...process.env, PORT: String(port), SANDBOX_PORT_BASE: String(sandboxBase),
    DATABASE_URL: process.env.BACKEND_DATABASE_URL || `sqlite:///${path.join(dir, 'e2e.sqlite')}`,
    OTB_DEMO_PASSWORD: PASSWORD,
  }
  const proc = spawn(PYTHON, ['-m', 'app.devserver'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let banner = ''
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`devserver not ready:\n${banner}`)), 120000)
    proc.stdout.on('data', (chunk) => {
      banner += chunk
      const m = /READY (\S+)/.exec(banner)
      if (m) { clearTimeout(timer); resolve(m[1]) }
    })
    proc.stderr.on('data', () => {})
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`devserver exited ${code}:\n${banner}`)) })
  })
  return {
    url, banner, dir,
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve()
      proc.once('exit', resolve)
      proc.kill('SIGINT')
      setTimeout(() => proc.kill('SIGKILL'), 15000).unref()
    }),
  }
}

/** A small JSON client for setting up data the way the mini-program would. */
export function apiClient(base) {
  let n = 0
  const tokens = {}
  async function call(method, p, token, body) {
    const headers = { 'Content-Type': 'application/json' }
    if (token) headers.Authorization = `Bearer ${token}`
    if (method === 'POST') headers['Idempotency-Key'] = `console-e2e-${process.pid}-${++n}`
    const resp = await fetch(`${base}/api/v1${p}`, { method, headers, body: body ? JSON.stringify(body) : undefined })
    const data = await resp.json().catch(() => null)
    if (!resp.ok) throw new Error(`${method} ${p} → ${resp.status} ${JSON.stringify(data)}`)
    return data
  }
  async function wechat(openid) {
    if (!tokens[openid]) tokens[openid] = (await call('POST', '/auth/wechat-login', null, { code: `sandbox:${openid}` })).access_token
    return tokens[openid]
  }
  return { call, wechat }
}

/** A fleet trip requested by demo-traveler ``daysAhead`` days from now at 10:00 Beijing, quoted,
 * submitted with the fleet offer and approved by whoever the workflow asks. Its id. */
export async function approvedFleetTrip(api, { daysAhead = 1, text = '控制台端到端测试会议' } = {}) {
  const traveler = await api.wechat('demo-traveler')
  const day = new Date(Date.now() + daysAhead * 86400000 + 8 * 3600000).toISOString().slice(0, 10)
  const depart = new Date(`${day}T10:00:00+08:00`)
  const trip = await api.call('POST', '/trips', traveler, {
    purpose: { category: 'meeting', text },
    passengers: [{ name: '张明', phone: '13800000001' }, { name: '李四', phone: '13912345678' }],
    stops: [{ name: '市民广场', lat: 31.81, lng: 119.97 }, { name: '武进区政府', lat: 31.70, lng: 119.94 }],
    depart_at: depart.toISOString(), return_at: new Date(depart.getTime() + 3 * 3600000).toISOString(),
    vehicle_class: 'sedan',
  })
  const quotes = await api.call('POST', `/trips/${trip.id}/quotes`, traveler, {})
  const offer = quotes.offers.find((o) => o.channel === 'fleet')
  await api.call('POST', `/trips/${trip.id}/submit`, traveler, { offer_id: offer.id })
  for (let round = 0; round < 4; round++) {
    const state = (await api.call('GET', `/trips/${trip.id}`, traveler)).state
    if (state === 'approved') return { id: trip.id, day }
    for (const who of ['demo-approver', 'demo-platform-approver', 'demo-city-approver']) {
      const token = await api.wechat(who)
      const inbox = await api.call('GET', '/approvals?state=pending', token)
      for (const task of inbox.items.filter((t) => t.trip_id === trip.id)) {
        await api.call('POST', `/approvals/${task.id}/approve`, token, { comment: '同意' })
      }
    }
  }
  throw new Error(`trip ${trip.id} was not approved`)
}

export async function launchBrowser() {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'otb-console-chromium-'))
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`, '--lang=zh-CN', '--window-size=1440,900'],
    defaultViewport: { width: 1440, height: 900 },
  })
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true })
  await new Promise((r) => setTimeout(r, 300)) // let transitions settle
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true })
}

/** Wait until a file other than a partial download appears in ``dir``; its path. */
export async function downloaded(dir, timeout = 30000) {
  const until = Date.now() + timeout
  while (Date.now() < until) {
    const done = existsSync(dir) ? readdirSync(dir).filter((f) => !f.endsWith('.crdownload')) : []
    if (done.length && statSync(path.join(dir, done[0])).size > 0) return path.join(dir, done[0])
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`no download in ${dir}`)
}

/** Open an XLSX with openpyxl (the backend's test dependency): its sheet names. */
export function workbookSheets(file) {
  const out = execFileSync(PYTHON, ['-c', 'import sys, openpyxl; print("|".join(openpyxl.load_workbook(sys.argv[1]).sheetnames))', file])
  return out.toString().trim().split('|')
}
