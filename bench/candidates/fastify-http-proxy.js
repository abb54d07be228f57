// The "fastify-http-proxy" candidate: @fastify/http-proxy (reply-from over an undici Pool) on
// fastify 5, logger off, default options apart from the pool size stated explicitly.
// Usage: ORIGIN_URL=http://127.0.0.1:PORT node fastify-http-proxy.js  (prints "listening PORT")
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'

const app = Fastify({ logger: false, keepAliveTimeout: 60_000 })
await app.register(proxy, {
  upstream: process.env.ORIGIN_URL,
  undici: { connections: 128, pipelining: 1 },
})
await app.listen({ host: '127.0.0.1', port: 0 })
console.log(`listening ${app.server.address().port}`)
