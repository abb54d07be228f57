/**
 * Hot reload (SPEC §4): triggers (file watcher, admin API, library call), all-or-nothing
 * apply, no-op for an identical document, history and rollback, secrets redacted in GET
 * /config, pools and sockets kept for unchanged upstreams, listeners diffed.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { rename, writeFile } from 'node:fs/promises'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import { startFileGateway, type FileGateway } from '../helpers/start-gateway.ts'
import { request, connectRefused } from '../helpers/http-client.ts'
import { waitFor } from '../helpers/wait-for.ts'

const TOKEN = 'reload-test-token'
const auth = { authorization: `Bearer ${TOKEN}` }

function configWith(
  a: FakeUpstream,
  b: FakeUpstream,
  extra: { route?: string; headerValue?: string } = {},
): Record<string, unknown> {
  return {
    admin: { address: '127.0.0.1:0', token_env: 'ADMIN_TOKEN' },
    upstreams: {
      a: { targets: [{ url: a.url }] },
      b: { targets: [{ url: b.url }] },
    },
    routes: [
      {
        name: 'main',
        match: { prefix: extra.route ?? '/v1' },
        upstream: 'a',
        headers: {
          request: { set: { authorization: extra.headerValue ?? 'Bearer upstream-secret' } },
        },
      },
      { name: 'other', match: { prefix: '/b' }, upstream: 'b' },
    ],
  }
}

describe('hot reload', () => {
  let a: FakeUpstream
  let b: FakeUpstream
  let gw: FileGateway

  before(async () => {
    a = await startFakeUpstream()
    b = await startFakeUpstream()
    gw = await startFileGateway(configWith(a, b), { env: { ADMIN_TOKEN: TOKEN } })
  })

  after(async () => {
    await gw.close()
    await a.close()
    await b.close()
  })

  test('a file write is applied: new routes serve, old ones 404, history records it', async () => {
    const first = gw.gateway.configVersion
    assert.equal((await request(`${gw.url}/v1/x`)).status, 200)
    await gw.write(configWith(a, b, { route: '/v2' }))
    await waitFor(() => gw.gateway.configVersion !== first, { message: 'file change applied' })
    assert.equal((await request(`${gw.url}/v2/x`)).status, 200)
    assert.equal((await request(`${gw.url}/v1/x`)).status, 404)
    const history = (await request(`${gw.adminUrl}/config/history`, { headers: auth })).json()
    assert.equal(history.history[0].version, gw.gateway.configVersion)
    assert.equal(history.history[0].source, 'file')
    assert.equal(history.history[0].outcome, 'applied')
  })

  test('save-by-rename (as editors save) is seen too', async () => {
    const before = gw.gateway.configVersion
    const tmp = `${gw.path}.swp`
    await writeFile(
      tmp,
      JSON.stringify({
        listeners: [{ name: 'public', address: '127.0.0.1:0' }],
        ...configWith(a, b, { route: '/renamed' }),
      }),
    )
    await rename(tmp, gw.path)
    await waitFor(() => gw.gateway.configVersion !== before, { message: 'rename applied' })
    assert.equal((await request(`${gw.url}/renamed/x`)).status, 200)
  })

  test('an invalid document is rejected whole; the old config keeps serving', async () => {
    const before = gw.gateway.configVersion
    const failuresBefore = gw.logs.filter((l) => l.msg?.startsWith('config rejected')).length
    const res = await request(`${gw.adminUrl}/reload`, {
      method: 'POST',
      headers: auth,
      body: 'listeners: [{ name: public, address: "127.0.0.1:0" }]\nroutes:\n  - match: { prefix: /x }\n    upstream: nowhere\n',
    })
    assert.equal(res.status, 422)
    const body = res.json<{ outcome: string; errors: { path: string; line: number | null }[] }>()
    assert.equal(body.outcome, 'rejected')
    assert.ok(
      body.errors.some(
        (e: { path: string; line: number | null }) =>
          e.path === 'routes[0].upstream' && e.line === 4,
      ),
    )
    assert.equal(gw.gateway.configVersion, before)
    assert.equal((await request(`${gw.url}/renamed/x`)).status, 200, 'old routes still serve')
    await waitFor(
      () => gw.logs.filter((l) => l.msg?.startsWith('config rejected')).length > failuresBefore,
      { message: 'rejection logged' },
    )
    const metrics = (await request(`${gw.adminUrl}/metrics`, { headers: auth })).text()
    assert.match(metrics, /hitless_config_reloads_total\{result="failure"\} [1-9]/)
    const history = (await request(`${gw.adminUrl}/config/history`, { headers: auth })).json()
    assert.equal(history.history[0].outcome, 'rejected')
    assert.equal(history.history[0].source, 'admin')
  })

  test('an identical document is a no-op: no new version, no history entry', async () => {
    const before = gw.gateway.configVersion
    const historyBefore = gw.gateway.reloads.history.length
    const res = await request(`${gw.adminUrl}/reload`, { method: 'POST', headers: auth })
    assert.equal(res.status, 200)
    assert.equal(res.json().outcome, 'unchanged')
    assert.equal(gw.gateway.configVersion, before)
    assert.equal(gw.gateway.reloads.history.length, historyBefore)
  })

  test('GET /config shows the running document with secrets redacted', async () => {
    const res = await request(`${gw.adminUrl}/config`, { headers: auth })
    assert.equal(res.status, 200)
    const body = res.json()
    assert.equal(body.version, gw.gateway.configVersion)
    assert.equal(typeof body.loaded_at, 'string')
    const text = JSON.stringify(body.document)
    assert.doesNotMatch(text, /upstream-secret/)
    assert.match(text, /\[redacted\]/)
    assert.match(text, /ADMIN_TOKEN/, 'token_env names a variable, not a secret')
  })

  test('rollback re-applies an earlier version; an unknown one is 404', async () => {
    const versions = gw.gateway.reloads.history.filter((h) => h.outcome === 'applied')
    const target = versions.at(-1)!.version!
    const res = await request(`${gw.adminUrl}/rollback`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ version: target }),
    })
    assert.equal(res.status, 200)
    assert.equal(res.json().outcome, 'applied')
    assert.equal(gw.gateway.configVersion, target)
    assert.equal((await request(`${gw.url}/v1/x`)).status, 200)
    const unknown = await request(`${gw.adminUrl}/rollback`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ version: 'ffffffffffff' }),
    })
    assert.equal(unknown.status, 404)
  })

  test('an unchanged upstream keeps its pool and sockets; a client connection survives', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      assert.equal((await request(`${gw.url}/b/1`, { agent })).status, 200)
      const clientSocket = Object.values(agent.freeSockets).flat()[0]!
      const upstreamConnections = b.connections
      const before = gw.gateway.configVersion
      // Only route `main` changes; upstream `b` and the listener are untouched.
      await gw.write(configWith(a, b, { route: '/v9' }))
      await waitFor(() => gw.gateway.configVersion !== before, { message: 'reload applied' })
      assert.equal((await request(`${gw.url}/b/2`, { agent })).status, 200)
      assert.equal(Object.values(agent.freeSockets).flat()[0], clientSocket, 'same client socket')
      assert.equal(b.connections, upstreamConnections, 'no new upstream connection')
    } finally {
      agent.destroy()
    }
  })

  test('listeners are diffed: a new address opens, a removed one stops accepting', async () => {
    const doc = configWith(a, b)
    const before = gw.gateway.configVersion
    await gw.write({
      ...doc,
      listeners: [
        { name: 'public', address: '127.0.0.1:0' },
        { name: 'extra', address: '127.0.0.2:0' },
      ],
    })
    await waitFor(() => gw.gateway.configVersion !== before, { message: 'listener added' })
    const extra = gw.gateway.addresses.listeners.find((l) => l.name === 'extra')
    assert.ok(extra, 'extra listener open')
    const extraPort = Number(extra.address.slice(extra.address.lastIndexOf(':') + 1))
    const viaExtra = await request(`http://127.0.0.2:${extraPort}/b/x`)
    assert.equal(viaExtra.status, 200)
    const mid = gw.gateway.configVersion
    await gw.write(doc)
    await waitFor(() => gw.gateway.configVersion !== mid, { message: 'listener removed' })
    await waitFor(
      async () => {
        return new Promise<boolean>((resolve) => {
          const s = net.connect(extraPort, '127.0.0.2')
          s.once('connect', () => {
            s.destroy()
            resolve(false)
          })
          s.once('error', () => resolve(true))
        })
      },
      { message: 'removed listener refuses' },
    )
    assert.equal(await connectRefused(gw.port), false, 'the kept listener still accepts')
  })

  test('the library reload() applies a document object', async () => {
    const result = await gw.gateway.reload({
      listeners: [{ name: 'public', address: '127.0.0.1:0' }],
      ...configWith(a, b, { route: '/lib' }),
    })
    assert.equal(result.outcome, 'applied')
    assert.equal((await request(`${gw.url}/lib/x`)).status, 200)
  })
})

describe('hot reload: file edge cases', () => {
  let up: FakeUpstream
  before(async () => {
    up = await startFakeUpstream()
  })
  after(async () => {
    await up.close()
  })

  const doc = (prefix: string): Record<string, unknown> => ({
    upstreams: { u: { targets: [{ url: up.url }] } },
    routes: [{ name: 'r', match: { prefix }, upstream: 'u' }],
  })

  test('a half-written file is read again, not rejected', async () => {
    const gw = await startFileGateway(doc('/one'), { logLevel: 'debug' })
    try {
      const full = JSON.stringify({
        listeners: [{ name: 'public', address: '127.0.0.1:0' }],
        ...doc('/two'),
      })
      await gw.write(full.slice(0, full.length / 2))
      await waitFor(
        () => gw.logs.some((l) => l.msg === 'config file does not parse yet: checking it again'),
        {
          message: 'partial file seen',
        },
      )
      await gw.write(full)
      await waitFor(
        () => gw.logs.some((l) => l.msg === 'config applied' && l['source'] === 'file'),
        {
          message: 'complete file applied',
        },
      )
      assert.equal((await request(`${gw.url}/two`)).status, 200)
      assert.equal(
        gw.gateway.reloads.history.filter((h) => h.outcome === 'rejected').length,
        0,
        'the half-written state was never reported',
      )
    } finally {
      await gw.close()
    }
  })

  test('a file that stays broken is reported once, and the old config keeps serving', async () => {
    const gw = await startFileGateway(doc('/one'))
    try {
      await gw.write('{ "listeners": [ oops')
      await waitFor(() => gw.gateway.reloads.history.some((h) => h.outcome === 'rejected'), {
        message: 'persistent failure reported',
      })
      const rejected = gw.gateway.reloads.history.filter((h) => h.outcome === 'rejected')
      assert.equal(rejected.length, 1)
      assert.equal(rejected[0]!.source, 'file')
      assert.ok(rejected[0]!.errors[0]!.line !== null, 'the syntax error has a line')
      assert.equal((await request(`${gw.url}/one`)).status, 200)
    } finally {
      await gw.close()
    }
  })

  test('a new listener that cannot bind rejects the document; nothing changes', async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const busy = (blocker.address() as net.AddressInfo).port
    const gw = await startFileGateway(doc('/one'))
    try {
      const result = await gw.gateway.reload({
        listeners: [
          { name: 'public', address: '127.0.0.1:0' },
          { name: 'taken', address: `127.0.0.1:${busy}` },
        ],
        ...doc('/two'),
      })
      assert.equal(result.outcome, 'rejected')
      assert.match(JSON.stringify(result), /listener taken .*EADDRINUSE/)
      assert.equal((await request(`${gw.url}/one`)).status, 200, 'old routes still serve')
      assert.equal((await request(`${gw.url}/two`)).status, 404)
      assert.deepEqual(
        gw.gateway.addresses.listeners.map((l) => l.name),
        ['public'],
      )
    } finally {
      await gw.close()
      await new Promise<void>((r) => blocker.close(() => r()))
    }
  })
})
