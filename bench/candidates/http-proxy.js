// The "http-proxy" candidate: node-http-proxy in front of a keep-alive http.Agent (without an
// agent it would open one upstream connection per request and send Connection: close).
// Usage: ORIGIN_URL=http://127.0.0.1:PORT node http-proxy.js  (prints "listening PORT")
import http from 'node:http'
import httpProxy from 'http-proxy'

const agent = new http.Agent({ keepAlive: true, maxSockets: 128 })
const proxy = httpProxy.createProxyServer({ target: process.env.ORIGIN_URL, agent })
proxy.on('error', (_err, _req, res) => {
  if (res.headersSent) res.destroy()
  else res.writeHead(502).end()
})
const server = http.createServer((req, res) => proxy.web(req, res))
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`))
