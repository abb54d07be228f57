// hitless as a library (docs/library.md): a gateway in front of a small service, with two
// middleware: an auth check that answers 401 by itself, and a timing header added to every
// response. Runs a few requests through it and stops.
//
//   npm run build && node examples/library.js
import http from 'node:http'
import { createGateway } from 'hitless'

// The service behind the gateway.
const service = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ path: req.url, user: req.headers['x-user'] ?? null }) + '\n')
})
await new Promise((resolve) => service.listen(0, '127.0.0.1', resolve))

const gateway = createGateway({
  config: {
    listeners: [{ name: 'public', address: '127.0.0.1:0' }],
    upstreams: { app: { targets: [{ url: `http://127.0.0.1:${service.address().port}` }] } },
    routes: [
      { name: 'health', match: { path: '/healthz' }, respond: { status: 200, body: 'ok\n' } },
      { name: 'app', match: { prefix: '/api' }, upstream: 'app' },
    ],
  },
  logLevel: 'warn',
})

// Outermost: how long the whole request took, as a response header.
gateway.use(async (ctx, next) => {
  const started = performance.now()
  await next()
  const ms = (performance.now() - started).toFixed(2)
  ctx.response?.headers.set('server-timing', `total;dur=${ms}`)
  if (ctx.upstream !== null) {
    ctx.response?.headers.append(
      'server-timing',
      `upstream;dur=${ctx.upstream.durationMs.toFixed(2)}`,
    )
  }
})

// Then: /api needs a token; the user it names goes upstream as x-user.
const TOKENS = new Map([['secret-token', 'ada']])
gateway.use(async (ctx, next) => {
  if (ctx.path.startsWith('/api')) {
    const token = ctx.req.headers.authorization?.replace(/^Bearer /, '')
    const user = token === undefined ? undefined : TOKENS.get(token)
    if (user === undefined) {
      ctx.respond(401, '{"error":"unauthorized"}\n', { 'content-type': 'application/json' })
      return
    }
    ctx.requestHeaders.set('x-user', user)
  }
  await next()
})

await gateway.start()
const base = `http://${gateway.addresses.listeners[0].address}`

async function show(path, headers = {}) {
  const res = await fetch(`${base}${path}`, { headers })
  const body = (await res.text()).trim()
  console.log(
    `GET ${path} → ${res.status} ${body}  [server-timing: ${res.headers.get('server-timing')}]`,
  )
}

await show('/healthz')
await show('/api/orders')
await show('/api/orders', { authorization: 'Bearer secret-token' })
await gateway.close()
service.close()
