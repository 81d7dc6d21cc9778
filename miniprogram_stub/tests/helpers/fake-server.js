// A tiny local HTTP server for unit tests: each test installs a handler and reads back
// what the client sent (method, path, headers, JSON body).
const http = require('node:http')

async function startFakeServer() {
  const received = []
  let handler = (req, res) => send(res, 404, { code: 'not_found', message: '未找到', status: 404, errors: null })

  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const entry = { method: req.method, url: req.url, headers: req.headers, body: text ? JSON.parse(text) : null }
      received.push(entry)
      handler(entry, res, req)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    baseUrl: `http://127.0.0.1:${port}/api/v1`,
    received,
    handle(fn) { handler = fn; received.length = 0 },
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}

function send(res, status, body) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

module.exports = { startFakeServer, send }
