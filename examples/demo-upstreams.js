// Three tiny services for the quickstart: two "users" instances and one "orders" service.
// Each answers JSON saying who it is and what it saw; /api/orders/events is an SSE stream.
// Ports come from DEMO_PORT_A/B/C (defaults 9001-9003); pass 0 to let the OS choose.
import http from 'node:http'

function service(name) {
  return http.createServer((req, res) => {
    if (req.url === '/healthz') return void res.end('ok\n')
    if (req.url?.endsWith('/events')) return void sse(res)
    let bytes = 0
    req.on('data', (c) => (bytes += c.length))
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      res.end(
        JSON.stringify({
          service: name,
          method: req.method,
          path: req.url,
          body_bytes: bytes,
          forwarded_for: req.headers['x-forwarded-for'] ?? null,
          request_id: req.headers['x-request-id'] ?? null,
        }) + '\n',
      )
    })
  })
}

function sse(res) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  let n = 0
  const timer = setInterval(() => res.write(`data: tick ${++n}\n\n`), 1000)
  res.on('close', () => clearInterval(timer))
}

/** Starts the three services; resolves with their ports. */
export async function startDemoUpstreams(env = process.env) {
  const specs = [
    ['users-a', env.DEMO_PORT_A ?? '9001'],
    ['users-b', env.DEMO_PORT_B ?? '9002'],
    ['orders', env.DEMO_PORT_C ?? '9003'],
  ]
  const servers = []
  for (const [name, port] of specs) {
    const server = service(name)
    await new Promise((resolve, reject) => {
      server.once('error', (err) =>
        reject(new Error(`demo service ${name} cannot listen on 127.0.0.1:${port}: ${err.code}`)),
      )
      server.listen(Number(port), '127.0.0.1', resolve)
    })
    servers.push(server)
  }
  return {
    ports: servers.map((s) => s.address().port),
    close: () => {
      for (const s of servers) {
        s.closeAllConnections()
        s.close()
      }
    },
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { ports } = await startDemoUpstreams()
  console.log(`demo upstreams on 127.0.0.1 ports ${ports.join(', ')}`)
}
