/**
 * Fleet mode (issue 5 points 3 and 5): two `hitless run --etcd … --etcd-key …` processes on one
 * real etcd. With no key, then an invalid document, both say why and wait instead of crashing;
 * the first usable revision starts both, each interpolating `${HITLESS_NAME}` from its own
 * environment. Each of 20 revisions is served by both within 1 s; an invalid revision is
 * rejected by both (history shows its etcd revision) and both keep serving; with etcd stopped
 * both keep serving, and after its restart both pick up the next revision.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { Etcd3 } from 'etcd3'
import { startEtcd } from '../helpers/etcd-server.ts'
import { get } from '../helpers/load.ts'
import {
  isRunning,
  servingAddresses,
  startUpgradable,
  type UpgradableGateway,
} from '../helpers/upgradable-gateway.ts'
import { waitFor } from '../helpers/wait-for.ts'

const KEY = '/hitless/config'

function doc(body: string): string {
  return [
    'listeners:',
    "  - { name: public, address: '127.0.0.1:0' }",
    "admin: { address: '127.0.0.1:0' }",
    'routes:',
    `  - { name: v, match: { path: /v }, respond: { status: 200, body: '${body} from \${HITLESS_NAME}' } }`,
    '',
  ].join('\n')
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN
}

test('fleet mode: two gateways follow one etcd key', { timeout: 120_000 }, async (t) => {
  const etcd = await startEtcd()
  const client = new Etcd3({ hosts: etcd.url })
  const fleet: UpgradableGateway[] = []
  const agent = new http.Agent({ keepAlive: true })
  const put = async (text: string): Promise<string> =>
    (await client.put(KEY).value(text).exec()).header.revision
  try {
    for (const name of ['g1', 'g2']) {
      fleet.push(
        await startUpgradable('# unused in fleet mode\n', {
          noWait: true,
          env: { HITLESS_NAME: name },
          args: ['--etcd', etcd.url, '--etcd-key', KEY],
        }),
      )
    }
    const waitingFor = (reason: string) => (gw: UpgradableGateway) =>
      waitFor(
        () =>
          gw
            .linesWith('no usable config document')
            .some((l) => String(l['reason']).includes(reason)),
        { timeoutMs: 10_000, message: `waiting because ${reason}; stderr: ${gw.stderr()}` },
      )
    await Promise.all(fleet.map(waitingFor('the key does not exist')))
    const invalidAt = await put('listeners: []\nroutes: nope\n')
    await Promise.all(fleet.map(waitingFor(`revision ${invalidAt} is not usable`)))
    for (const gw of fleet) assert.ok([...gw.pids].every(isRunning), 'still running, waiting')

    await put(doc('rev 0'))
    const ends = await Promise.all(fleet.map((gw) => servingAddresses(gw)))
    const answers = async (path = '/v'): Promise<string[]> =>
      Promise.all(ends.map((e) => get(`${e.url}${path}`, agent)))
    assert.deepEqual(await answers(), ['rev 0 from g1', 'rev 0 from g2'])

    // 20 revisions: each served by both within 1 s of the write.
    const latencies: number[] = []
    for (let i = 1; i <= 20; i++) {
      const started = performance.now()
      await put(doc(`rev ${i}`))
      await waitFor(
        async () => (await answers()).every((a, n) => a === `rev ${i} from g${n + 1}`),
        { timeoutMs: 5000, intervalMs: 2, message: `revision ${i} served by both` },
      )
      latencies.push(performance.now() - started)
    }
    const sorted = [...latencies].sort((a, b) => a - b)
    t.diagnostic(
      `write → served by both: p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`,
    )
    assert.ok(percentile(sorted, 100) < 1000, `slowest revision ${percentile(sorted, 100)} ms`)

    // An invalid revision: rejected by both, recorded with its revision; both keep serving.
    const rejectedAt = await put(doc('rev bad').replace('routes:', 'routes: 7\nx:'))
    for (const end of ends) {
      await waitFor(
        async () => {
          const history = JSON.parse(await get(`${end.admin}/config/history`, agent)) as {
            history: { revision: string | null; outcome: string; source: string }[]
          }
          const last = history.history[0]
          return last?.revision === rejectedAt && last.outcome === 'rejected'
        },
        { message: `${end.url} rejects revision ${rejectedAt}` },
      )
    }
    assert.deepEqual(await answers(), ['rev 20 from g1', 'rev 20 from g2'])

    // etcd goes down: both keep serving; it comes back: both take the next revision.
    await etcd.stop()
    for (const gw of fleet) {
      await waitFor(() => gw.linesWith('etcd problem').length > 0, {
        timeoutMs: 15_000,
        message: 'the outage is noticed',
      })
    }
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(await answers(), ['rev 20 from g1', 'rev 20 from g2'])
    }
    await etcd.restart()
    await put(doc('rev 21'))
    await waitFor(async () => (await answers()).every((a, n) => a === `rev 21 from g${n + 1}`), {
      timeoutMs: 20_000,
      intervalMs: 20,
      message: 'revision 21 after the restart',
    })
    // The outage was logged once by each, however often the client retried, and its end too
    // (the log reaches stdout in batches: wait for the line).
    for (const gw of fleet) {
      await waitFor(() => gw.linesWith('etcd watch connected again').length > 0, {
        message: 'the recovery is logged',
      })
      assert.equal(gw.linesWith('etcd problem').length, 1)
      assert.equal(gw.linesWith('etcd watch connected again').length, 1)
    }
  } finally {
    agent.destroy()
    await Promise.all(fleet.map((gw) => gw.close()))
    client.close()
    await etcd.close()
  }
})
