/**
 * `hitless run --workers 2` (SPEC §5, issue 4 point 4): a supervisor and two worker processes on
 * one set of sockets. Both workers serve; SIGHUP and the admin API bring both to one version; a
 * killed worker is replaced on the current version; /metrics adds up every worker; SIGTERM
 * completes an in-flight request, then refuses new connections, and every process exits 0.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import {
  request as rawRequest,
  type RequestOptions,
  connectRefused,
} from '../helpers/http-client.ts'
import { isRunning, servingAddresses, startUpgradable } from '../helpers/upgradable-gateway.ts'
import { waitFor } from '../helpers/wait-for.ts'

function config(origin: FakeUpstream, body: string): string {
  return [
    'listeners:',
    "  - { name: public, address: '127.0.0.1:0' }",
    "admin: { address: '127.0.0.1:0' }",
    'defaults: { drain_timeout: 10s }',
    'upstreams:',
    `  app: { targets: [{ url: '${origin.url}' }] }`,
    'routes:',
    `  - { name: text, match: { path: /text }, respond: { status: 200, body: ${body} } }`,
    '  - { name: app, match: { prefix: /app }, upstream: app }',
    '',
  ].join('\n')
}

/** A request whose failure names its URL. */
async function request(url: string, opts?: RequestOptions): ReturnType<typeof rawRequest> {
  return rawRequest(url, opts).catch((err: Error) => {
    throw new Error(`${opts?.method ?? 'GET'} ${url}: ${err.message}`)
  })
}

test(
  '--workers 2: both serve, reloads reach both, a dead worker is replaced',
  {
    timeout: 60_000,
  },
  async () => {
    let held: ((body: string) => void) | null = null
    const origin = await startFakeUpstream({
      handler: (req, res) => {
        if (req.url === '/app/slow') held = (body) => res.end(body)
        else res.end('app')
      },
    })
    const gw = await startUpgradable(config(origin, 'one'), { args: ['--workers', '2'] })
    try {
      const supervisor = gw.pid()
      await waitFor(() => gw.linesWith('worker ready').length === 2, { message: 'two workers' })
      const { url, admin } = await servingAddresses(gw, supervisor)
      const workers = (): number[] =>
        gw.linesWith('worker ready').map((l) => Number(l['worker_pid']))

      // Fresh connections: the kernel hands them to both workers.
      const servedBy = new Set<number>()
      for (let i = 0; i < 400 && servedBy.size < 2; i++) {
        const res = await request(`${admin}/healthz`)
        servedBy.add(res.json<{ pid: number }>().pid)
      }
      assert.deepEqual([...servedBy].sort(), [...workers()].sort(), 'both workers accept')

      // SIGHUP: the supervisor reads the file and every worker applies it.
      writeFileSync(gw.configPath, config(origin, 'two'))
      process.kill(supervisor, 'SIGHUP')
      await waitFor(() => gw.linesWith('workers serve a new version').length >= 1, {
        message: 'the reload reaches the workers',
      })
      // The watcher sees the write too (after its debounce): wait until it has applied it or
      // found it running, so that it cannot re-apply the file after the admin API's document.
      await waitFor(
        () =>
          gw.linesWith('workers ').some((l) => l['source'] === 'file' && l['supervisor'] === true),
        { message: 'the file watcher finds the version running' },
      )
      // Each process batches its log lines (up to 100 ms): wait for both workers' lines.
      const applied = (): Record<string, unknown>[] =>
        gw.linesWith('config applied').filter((l) => l['previous_version'] !== null)
      await waitFor(() => applied().length === 2, { message: 'both workers log the apply' })
      assert.equal(new Set(applied().map((l) => l['pid'])).size, 2, 'each worker applied it')
      assert.equal(new Set(applied().map((l) => l['config_version'])).size, 1, 'one version')
      for (let i = 0; i < 20; i++) assert.equal((await request(`${url}/text`)).text(), 'two')

      // The admin API of whichever worker answers applies a document to all of them.
      const posted = await request(`${admin}/reload`, {
        method: 'POST',
        body: config(origin, 'three'),
      })
      assert.equal(posted.json<{ outcome: string }>().outcome, 'applied')
      for (let i = 0; i < 20; i++) assert.equal((await request(`${url}/text`)).text(), 'three')

      // A worker killed outright is replaced, on the version the others serve.
      const victim = workers()[0] ?? 0
      process.kill(victim, 'SIGKILL')
      await waitFor(() => gw.linesWith('worker ready').length === 3, {
        timeoutMs: 10_000,
        message: 'a replacement worker',
      })
      assert.equal(gw.linesWith('worker died').length, 1)
      const current = gw.linesWith('workers serve a new version').at(-1) as {
        config_version: string
      }
      const replacement = gw.linesWith('worker ready')[2] as { config_version: string }
      assert.equal(replacement.config_version, current.config_version, 'on the current version')
      for (let i = 0; i < 20; i++) assert.equal((await request(`${url}/text`)).text(), 'three')

      // /metrics adds up the workers, whichever answers: both serve the current version, and the
      // last 20 answers on route `text` were all given by the two live workers.
      const metrics = (await request(`${admin}/metrics`)).text()
      const info = new RegExp(
        `^hitless_config_info\\{version="${current.config_version}".*\\} (\\d+)$`,
        'm',
      )
      assert.equal(info.exec(metrics)?.[1], '2', 'two workers serve the current version')
      const texts = /^hitless_http_requests_total\{route="text".*\} (\d+)$/m.exec(metrics)
      assert.ok(Number(texts?.[1]) >= 20, `merged request count: ${texts?.[1]}`)

      // SIGTERM: an in-flight request completes, new connections are refused, all exit 0.
      const slow = request(`${url}/app/slow`)
      await waitFor(() => held !== null, { message: 'the slow request reached the origin' })
      const port = Number(new URL(url).port)
      const everyone = [supervisor, ...workers()].filter((p) => isRunning(p))
      process.kill(supervisor, 'SIGTERM')
      await waitFor(() => connectRefused(port), { message: 'new connections are refused' })
      ;(held as ((body: string) => void) | null)?.('slow done')
      assert.equal((await slow).text(), 'slow done')
      await waitFor(() => everyone.every((p) => !isRunning(p)), {
        timeoutMs: 15_000,
        message: 'the supervisor and its workers exit',
      })
    } finally {
      await gw.close()
      await origin.close()
    }
  },
)

test(
  '--workers 2: a rollback through any worker reaches both; workers leave with a killed supervisor',
  {
    timeout: 60_000,
  },
  async () => {
    const origin = await startFakeUpstream()
    const gw = await startUpgradable(config(origin, 'one'), { args: ['--workers', '2'] })
    try {
      const supervisor = gw.pid()
      await waitFor(() => gw.linesWith('worker ready').length === 2, { message: 'two workers' })
      const { url, admin } = await servingAddresses(gw, supervisor)
      const first = gw.linesWith('worker ready')[0] as { config_version: string }

      const posted = await request(`${admin}/reload`, {
        method: 'POST',
        body: config(origin, 'two'),
      })
      assert.equal(posted.json<{ outcome: string }>().outcome, 'applied')
      const back = await request(`${admin}/rollback`, {
        method: 'POST',
        body: JSON.stringify({ version: first.config_version }),
      })
      assert.equal(back.json<{ outcome: string }>().outcome, 'applied')
      // Fresh connections land on either worker: every answer is the rolled-back version's.
      for (let i = 0; i < 20; i++) assert.equal((await request(`${url}/text`)).text(), 'one')

      // The supervisor dies outright: its workers, alone in their process groups, drain and go.
      const workers = gw.linesWith('worker ready').map((l) => Number(l['worker_pid']))
      process.kill(supervisor, 'SIGKILL')
      await waitFor(() => workers.every((p) => !isRunning(p)), {
        timeoutMs: 15_000,
        message: 'the workers exit once their supervisor is gone',
      })
      await waitFor(() => gw.logs.filter((l) => l['why'] === 'supervisor gone').length === 2, {
        message: 'each worker drained because its supervisor was gone',
      })
    } finally {
      await gw.close()
      await origin.close()
    }
  },
)
