// `npm start`: the demo upstreams plus the gateway on examples/quickstart.yaml, with a hint of
// what to try. Ctrl-C stops both (the gateway drains gracefully first).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import http from 'node:http'
import { startDemoUpstreams } from './demo-upstreams.js'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const port = process.env.HITLESS_PORT ?? '8080'
const adminPort = process.env.HITLESS_ADMIN_PORT ?? '9901'

let upstreams
try {
  upstreams = await startDemoUpstreams()
} catch (err) {
  console.error(`${err.message}\n(set DEMO_PORT_A/B/C to free ports and try again)`)
  process.exit(1)
}

const gateway = spawn(
  process.execPath,
  [
    path.join(root, 'dist/cli/main.js'),
    'run',
    '-c',
    path.join(root, 'examples/quickstart.yaml'),
    '--log-format',
    'pretty',
  ],
  { stdio: ['ignore', 'inherit', 'inherit'], env: process.env },
)

const base = `http://127.0.0.1:${port}`

/** Polls the admin /readyz (bounded: 10 s) so the hint is printed once the gateway serves. */
async function waitReady() {
  for (let i = 0; i < 100 && gateway.exitCode === null; i++) {
    const ok = await new Promise((resolve) => {
      http
        .get(`http://127.0.0.1:${adminPort}/readyz`, (res) => {
          res.resume()
          resolve(res.statusCode === 200)
        })
        .on('error', () => resolve(false))
    })
    if (ok) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return false
}

waitReady().then((ready) => {
  if (!ready) return
  console.log(`
  hitless is running on ${base} (admin on http://127.0.0.1:${adminPort})

  try:
    curl -i ${base}/api/users/42          # round-robin over two "users" instances
    curl -i ${base}/api/orders/7          # the "orders" service
    curl -N ${base}/api/orders/events     # server-sent events, streamed as they come
    curl -i ${base}/ping                  # answered by the gateway itself
    curl -i ${base}/users                 # a 308 redirect to /api/users
    curl -s http://127.0.0.1:${adminPort}/metrics | grep hitless_http

  live reload: edit examples/quickstart.yaml while this runs (say, the "pong" body of the
  ping route), save, and curl ${base}/ping again: the new config serves at once, and
  requests in flight finish on the old one. A typo is rejected and logged; the running
  config keeps serving. History: curl -s http://127.0.0.1:${adminPort}/config/history

  Ctrl-C stops (gracefully)
`)
})

const stop = (signal) => gateway.kill(signal)
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
gateway.on('exit', (code) => {
  upstreams.close()
  process.exit(code ?? 0)
})
