// Starts the live backend for a test run: `<repo>/.venv/bin/python -m app.devserver`
// with PORT, SANDBOX_PORT_BASE and DATABASE_URL, waiting for its `READY <url>` line.
// BACKEND_URL reuses a backend that is already running instead.
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')

const REPO = path.resolve(__dirname, '..', '..', '..')
const PYTHON = path.join(REPO, '.venv', 'bin', 'python')
const DEVSERVER = path.join(REPO, 'app', 'devserver.py')
const READY_TIMEOUT_MS = Number(process.env.BACKEND_READY_TIMEOUT_MS || 120000)
const SANDBOX_PORTS = 10

function apiBase(url) {
  const trimmed = url.trim().replace(/\/+$/, '')
  return /\/api\/v1$/.test(trimmed) ? trimmed : `${trimmed}/api/v1`
}

// Why the live-backend tests cannot run here, or null when they can.
function unavailableReason() {
  if (process.env.BACKEND_URL) return null
  const missing = [PYTHON, DEVSERVER].filter((p) => !fs.existsSync(p))
  if (!missing.length) return null
  return `live backend not available: missing ${missing.map((p) => path.relative(REPO, p)).join(' and ')} ` +
    '(create the venv and app/devserver.py, or set BACKEND_URL to a running backend)'
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

// A base port with SANDBOX_PORTS free ports above it, for the devserver's sandboxes.
async function freePortBlock(exclude) {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = 20000 + Math.floor(Math.random() * 30000)
    let ok = true
    for (let p = base; p < base + SANDBOX_PORTS && ok; p += 1) {
      ok = p !== exclude && await portFree(p)
    }
    if (ok) return base
  }
  throw new Error('no block of free ports for the sandboxes')
}

// Resolves {baseUrl, stop()}; baseUrl ends in /api/v1.
async function startBackend() {
  if (process.env.BACKEND_URL) {
    return { baseUrl: apiBase(process.env.BACKEND_URL), stop: async () => {}, log: () => '' }
  }
  const port = await freePort()
  const sandboxBase = await freePortBlock(port)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mini-backend-'))
  const env = Object.assign({}, process.env, {
    PORT: String(port),
    SANDBOX_PORT_BASE: String(sandboxBase),
    // BACKEND_DATABASE_URL: an empty database of another kind (CI runs these on PostgreSQL too)
    DATABASE_URL: process.env.BACKEND_DATABASE_URL || `sqlite:///${path.join(tmp, 'mini.db')}`,
    PYTHONUNBUFFERED: '1',
  })
  const child = spawn(PYTHON, ['-m', 'app.devserver'], {
    cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  })
  // The devserver may run its sandboxes and worker as child processes: signal its group.
  const signalGroup = (sig) => { try { process.kill(-child.pid, sig) } catch (e) { /* already gone */ } }
  let output = ''
  const log = () => output.slice(-4000)

  const baseUrl = await new Promise((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => {
      reject(new Error(`devserver printed no READY line within ${READY_TIMEOUT_MS} ms; output:\n${log()}`))
    }, READY_TIMEOUT_MS)
    child.stdout.on('data', (chunk) => {
      const text = chunk.toString('utf8')
      output += text
      buffered += text
      const lines = buffered.split('\n')
      buffered = lines.pop()
      for (const line of lines) {
        const m = /^READY (\S+)/.exec(line.trim())
        if (m) {
          clearTimeout(timer)
          resolve(apiBase(m[1]))
        }
      }
    })
    child.stderr.on('data', (chunk) => { output += chunk.toString('utf8') })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`devserver exited (${signal || code}) before READY; output:\n${log()}`))
    })
    child.once('error', (err) => { clearTimeout(timer); reject(err) })
  }).catch((err) => {
    signalGroup('SIGKILL')
    fs.rmSync(tmp, { recursive: true, force: true })
    throw err
  })

  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      signalGroup('SIGTERM')
      const timer = setTimeout(() => signalGroup('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    signalGroup('SIGKILL')
    fs.rmSync(tmp, { recursive: true, force: true })
  }

  return { baseUrl, stop, log }
}

module.exports = { startBackend, unavailableReason, REPO }
