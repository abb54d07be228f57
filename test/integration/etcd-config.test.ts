/**
 * The etcd config source in one process (issue 5 point 3): start waits for a usable document
 * and close() ends the wait; the running revision shows in GET /config and the history; a watch
 * cut off by a network partition resumes and catches up with what was written meanwhile, with
 * no new write; a reload (SIGHUP, POST /reload) reads the key again; a deleted key leaves the
 * gateway serving its last document; etcd discovery defaults to fleet mode's cluster.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Etcd3 } from 'etcd3'
import { createGateway } from '../../src/gateway.ts'
import { startEtcd } from '../helpers/etcd-server.ts'
import { request } from '../helpers/http-client.ts'
import { startFakeUpstream } from '../helpers/fake-upstream.ts'
import { collectingLogger, type LogLine } from '../helpers/start-gateway.ts'
import { startTcpProxy } from '../helpers/tcp-proxy.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { within } from '../helpers/within.ts'

function doc(body: string): string {
  return JSON.stringify({
    listeners: [{ name: 'public', address: '127.0.0.1:0' }],
    admin: { address: '127.0.0.1:0' },
    routes: [{ match: { path: '/v' }, respond: { status: 200, body } }],
  })
}

test(
  'the etcd config source: waiting, revisions, partition, reload, deletion',
  { timeout: 60_000 },
  async () => {
    const etcd = await startEtcd()
    const client = new Etcd3({ hosts: etcd.url })
    const proxy = await startTcpProxy(etcd.port)
    const logs: LogLine[] = []
    const gateway = createGateway({
      etcd: { endpoints: [`http://127.0.0.1:${proxy.port}`], key: '/cfg' },
      env: {},
      logger: collectingLogger(logs),
    })
    const messages = (): string[] => logs.map((l) => String((l as { msg?: unknown }).msg))
    try {
      // No key: start waits, saying why.
      let started = false
      const starting = gateway.start().then(() => (started = true))
      await waitFor(() => messages().some((m) => m.startsWith('no usable config document')))
      assert.equal(started, false)
      const first = (await client.put('/cfg').value(doc('one')).exec()).header.revision
      await within(starting, 10_000, 'start after the first document')
      const url = `http://${gateway.addresses.listeners[0]?.address ?? ''}`
      const admin = `http://${gateway.addresses.admin ?? ''}`
      assert.equal((await request(`${url}/v`)).text(), 'one')
      const current = JSON.parse((await request(`${admin}/config`)).text()) as { revision: string }
      assert.equal(current.revision, first)

      // A partition: two writes meanwhile; once it heals the gateway catches up by itself.
      await proxy.cut()
      await waitFor(() => messages().some((m) => m.startsWith('etcd problem')), {
        timeoutMs: 10_000,
      })
      await client.put('/cfg').value(doc('two')).exec()
      const third = (await client.put('/cfg').value(doc('three')).exec()).header.revision
      assert.equal((await request(`${url}/v`)).text(), 'one', 'still serving during the partition')
      await proxy.restore()
      await waitFor(async () => (await request(`${url}/v`)).text() === 'three', {
        timeoutMs: 20_000,
        message: 'caught up after the partition',
      })
      assert.equal(gateway.reloads.current?.revision, third)

      // A reload reads the key again: the same document is a no-op.
      assert.equal((await gateway.reload(undefined, 'signal')).outcome, 'unchanged')

      // The key is deleted: logged, and the last document keeps serving.
      await client.delete().key('/cfg').exec()
      await waitFor(() => messages().some((m) => m.startsWith('the config key was deleted')))
      assert.equal((await request(`${url}/v`)).text(), 'three')
      const reread = await gateway.reload(undefined, 'signal')
      assert.equal(reread.outcome, 'rejected')

      // etcd discovery without an `etcd` block uses fleet mode's cluster.
      const service = await startFakeUpstream({
        handler: (_req, res) => void res.end('discovered'),
      })
      try {
        await client.put('/svc/a').value(JSON.stringify({ url: service.url }))
        const withDiscovery = JSON.stringify({
          listeners: [{ name: 'public', address: '127.0.0.1:0' }],
          admin: { address: '127.0.0.1:0' },
          upstreams: { app: { discovery: { etcd: { prefix: '/svc/' } } } },
          routes: [{ match: { prefix: '/' }, upstream: 'app' }],
        })
        await client.put('/cfg').value(withDiscovery).exec()
        await waitFor(async () => (await request(`${url}/x`)).text() === 'discovered', {
          message: 'the discovered service answers',
        })
      } finally {
        await service.close()
      }
    } finally {
      await gateway.close()
      await proxy.close()
      client.close()
      await etcd.close()
    }
  },
)

test('close() ends the wait for a first document', async () => {
  const etcd = await startEtcd()
  const gateway = createGateway({
    etcd: { endpoints: [etcd.url], key: '/nothing-here' },
    env: {},
    logger: collectingLogger([]),
  })
  try {
    const starting = gateway.start()
    const outcome = starting.then(
      () => 'started',
      (err: Error) => err.message,
    )
    await gateway.close()
    assert.match(await within(outcome, 5000, 'start to end'), /stopped while waiting/)
  } finally {
    await etcd.close()
  }
})

test('a revision with a rollout block runs as a canary; once rolled back, re-reading the key does not apply it again', async () => {
  const etcd = await startEtcd()
  const client = new Etcd3({ hosts: etcd.url })
  const logs: LogLine[] = []
  const gateway = createGateway({
    etcd: { endpoints: [etcd.url], key: '/cfg' },
    env: {},
    logger: collectingLogger(logs),
  })
  try {
    await client.put('/cfg').value(doc('stable')).exec()
    await within(gateway.start(), 10_000, 'start')
    const url = `http://${gateway.addresses.listeners[0]?.address ?? ''}`
    const canaryDoc = JSON.stringify({
      ...(JSON.parse(doc('failing')) as Record<string, unknown>),
      routes: [{ match: { path: '/v' }, respond: { status: 503, body: 'failing' } }],
      rollout: { canary_percent: 100, window: '60s', max_error_rate: 0.1, min_requests: 5 },
    })
    const revision = (await client.put('/cfg').value(canaryDoc).exec()).header.revision
    await waitFor(() => gateway.rolloutView().state === 'running', { message: 'the canary' })
    const started = gateway.reloads.history[0]
    assert.equal(started?.outcome, 'canary')
    assert.equal(started.source, 'etcd')
    assert.equal(started.revision, revision)
    for (let i = 0; i < 5; i++) assert.equal((await request(`${url}/v`)).status, 503)
    assert.equal(gateway.rolloutView().state, 'none')
    assert.equal((await request(`${url}/v`)).text(), 'stable')
    const reread = await gateway.reload(undefined, 'signal')
    assert.equal(reread.outcome, 'rejected')
    assert.match(JSON.stringify(reread), /was rolled back/)
    await client.put('/cfg').value(doc('fixed')).exec()
    await waitFor(async () => (await request(`${url}/v`)).text() === 'fixed', {
      message: 'the next revision applies',
    })
  } finally {
    await gateway.close()
    client.close()
    await etcd.stop()
  }
})
