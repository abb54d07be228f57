/**
 * A TLS listener drains like a plain one (SPEC §5): node:http serves the TLS socket, not the TCP
 * socket the listener accepted, so the drain must look at the former to tell a busy connection
 * from an idle one. An HTTPS request in flight when the stop begins completes; an idle HTTPS
 * keep-alive connection is closed at once.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import https from 'node:https'
import { fileURLToPath } from 'node:url'
import type { ServerResponse } from 'node:http'
import { startFakeUpstream } from '../helpers/fake-upstream.ts'
import { startGateway } from '../helpers/start-gateway.ts'
import { onceWithin, waitFor } from '../helpers/wait-for.ts'

// A self-signed certificate for 127.0.0.1, valid for a century, kept for these tests only.
const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../../test/fixtures/tls/${name}`, import.meta.url))

function get(url: string, agent: https.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent, rejectUnauthorized: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')))
    req.on('error', reject)
  })
}

test('HTTPS: a request in flight at the stop completes; an idle connection closes', async () => {
  let held: ServerResponse | null = null
  const origin = await startFakeUpstream({
    handler: (req, res) => {
      if (req.url === '/slow') held = res
      else res.end('fast')
    },
  })
  const gw = await startGateway({
    listeners: [
      {
        name: 'tls',
        address: '127.0.0.1:0',
        tls: { cert: fixture('cert.pem'), key: fixture('key.pem') },
      },
    ],
    defaults: { drain_timeout: '10s' },
    upstreams: { o: { targets: [{ url: origin.url }] } },
    routes: [{ match: { prefix: '/' }, upstream: 'o' }],
  })
  const url = `https://127.0.0.1:${gw.port}`
  const idleAgent = new https.Agent({ keepAlive: true, maxSockets: 1 })
  const busyAgent = new https.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    assert.equal((await get(`${url}/fast`, idleAgent)).body, 'fast')
    const idle = Object.values(idleAgent.freeSockets).flat()[0]
    assert.ok(idle, 'an idle TLS keep-alive connection')
    const idleClosed = onceWithin(idle, 'close', 5000)
    // The busy connection has carried a request before, so it is not "new" either.
    assert.equal((await get(`${url}/fast`, busyAgent)).body, 'fast')
    const slow = get(`${url}/slow`, busyAgent)
    await waitFor(() => held !== null, { message: 'the slow request reached the origin' })

    const closed = gw.close()
    await idleClosed
    ;(held as ServerResponse | null)?.end('slow done')
    assert.deepEqual(await slow, { status: 200, body: 'slow done' })
    await closed
  } finally {
    idleAgent.destroy()
    busyAgent.destroy()
    await gw.close()
    await origin.close()
  }
})
