// The "minimal" candidate: node:http server + one undici Pool, no features. It is the floor
// that any Node proxy built on undici pays; hitless is reported as a ratio of it.
// Usage: ORIGIN_URL=http://127.0.0.1:PORT node minimal-proxy.js  (prints "listening PORT")
import http from 'node:http'
import { Pool } from 'undici'

const pool = new Pool(process.env.ORIGIN_URL, { connections: 128, keepAliveTimeout: 60_000 })
// RFC 9110 §7.6.1 hop-by-hop headers, plus any header named in Connection.
const HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding']
const HOP_BY_HOP = new Set([...HOP, 'upgrade'])

function endToEnd(headers) {
  const named = String(headers.connection ?? '')
    .toLowerCase()
    .split(/\s*,\s*/)
  const out = {}
  for (const key in headers) {
    if (!HOP_BY_HOP.has(key) && !named.includes(key)) out[key] = headers[key]
  }
  return out
}

const server = http.createServer((req, res) => {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding']
  const opts = { method: req.method, path: req.url, headers: endToEnd(req.headers) }
  pool.request({ ...opts, body: hasBody ? req : null }).then(
    ({ statusCode, headers, body }) => {
      res.writeHead(statusCode, endToEnd(headers))
      // .pipe() rather than stream.pipeline(): on Node 20 pipeline() allocates an AbortController
      // and throws away a DOMException per call (~8% of this proxy's CPU in a profile).
      body.on('error', () => res.destroy()).pipe(res)
      res.on('close', () => body.destroy())
    },
    () => {
      if (res.headersSent) res.destroy()
      else res.writeHead(502).end()
    },
  )
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`))
