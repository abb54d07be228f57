/**
 * Hot upgrade (SPEC §5, issue 4): SIGUSR2 starts a new process that takes the listening sockets
 * over; the old one drains and exits. Real CLI processes, real signals, a real pid file.
 *
 * The guarantee: under constant keep-alive and fresh-connection load, three successive upgrades
 * with no failed, reset or refused request; a 2 s request started before each upgrade completes;
 * the pid changes each time and every old process exits; the code that serves afterwards is the
 * code on disk at upgrade time (BUILD_ID, changed in a private copy of the build before each
 * signal). Keep-alive clients behave as Node documents (and browsers do, RFC 9112 §9.3.1): a
 * request written on a reused connection that the server had just closed while idle is sent once
 * more; those retries are counted and reported, and fresh connections get no such help.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { fdOf } from '../../src/server/inherited.ts'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import { request } from '../helpers/http-client.ts'
import { runCli } from '../helpers/run-cli.ts'
import {
  isRunning,
  servingAddresses,
  startUpgradable,
  type UpgradableGateway,
} from '../helpers/upgradable-gateway.ts'
import { onceWithin, waitFor } from '../helpers/wait-for.ts'

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))

const UPGRADES = 3
const SLOW_MS = 2000
const KEEPALIVE_LOOPS = 3
const FRESH_LOOPS = 2
const MAX_REQUESTS_PER_LOOP = 50_000
const REQUEST_TIMEOUT_MS = 10_000

function configText(origin: FakeUpstream): string {
  return [
    'listeners:',
    "  - { name: public, address: '127.0.0.1:0' }",
    "admin: { address: '127.0.0.1:0' }",
    'defaults: { drain_timeout: 10s }',
    'upstreams:',
    `  app: { targets: [{ url: '${origin.url}' }] }`,
    'routes:',
    '  - { name: all, match: { prefix: / }, upstream: app, retries: { attempts: 0 } }',
    '',
  ].join('\n')
}

async function origin(): Promise<FakeUpstream> {
  return startFakeUpstream({
    handler: (req, res) => {
      const send = (body: string): void => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length })
        res.end(body)
      }
      if (req.url === '/slow') setTimeout(() => send('slow-done'), SLOW_MS)
      else send('ok')
    },
  })
}

interface Outcome {
  readonly status: number
  readonly body: string
  readonly error?: string
  readonly reused: boolean
}

/** Sockets that have carried a complete exchange: a request on one is on a reused connection. */
const usedSockets = new WeakSet<object>()

/**
 * One GET. `reused` says whether its connection had carried an earlier exchange (Node's
 * `req.reusedSocket` misses a socket handed straight from one queued request to the next).
 */
function get(url: string, agent: http.Agent | false): Promise<Outcome> {
  return new Promise((resolve) => {
    let reused = false
    const req = http.get(url, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => {
        usedSockets.add(req.socket ?? {})
        resolve({ status: res.statusCode ?? 0, body, reused })
      })
      res.on('error', (err) =>
        resolve({ status: res.statusCode ?? 0, body, error: err.message, reused }),
      )
    })
    req.on('socket', (socket) => (reused = req.reusedSocket || usedSockets.has(socket)))
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('request timed out')))
    req.on('error', (err: Error & { code?: string }) =>
      resolve({ status: 0, body: '', error: err.code ?? err.message, reused }),
    )
  })
}

/** Worker pids that the supervisor `pid` reported ready (its `worker ready` lines). */
function workersOf(gw: UpgradableGateway, pid: number): number[] {
  return gw.logs
    .filter((l) => l['pid'] === pid && l['msg'] === 'worker ready')
    .map((l) => Number(l['worker_pid']))
}

/**
 * The guarantee, for one process (`workers` undefined) or a supervisor with N workers: three
 * upgrades under keep-alive and fresh-connection load.
 */
async function upgradesUnderLoad(t: TestContext, workers?: number): Promise<void> {
  const upstream = await origin()
  let gw: UpgradableGateway | undefined
  const agent = new http.Agent({ keepAlive: true, maxSockets: KEEPALIVE_LOOPS })
  let stop = false
  let loops: Promise<void>[] = []
  try {
    gw = await startUpgradable(configText(upstream), {
      privateCode: true,
      ...(workers === undefined ? {} : { args: ['--workers', String(workers)] }),
    })
    const g = gw
    const { url, admin } = await servingAddresses(g)
    const failures: string[] = []
    let ok = 0
    let retried = 0
    const loop = async (kind: 'keep-alive' | 'fresh', id: number): Promise<void> => {
      for (let i = 0; i < MAX_REQUESTS_PER_LOOP && !stop; i++) {
        const target = `${url}/load/${kind}/${id}/${i}`
        let r = await get(target, kind === 'keep-alive' ? agent : false)
        // Each retry is again on a connection the server closed while idle (the pool may hold
        // several that one drain closed at once); bounded, and a new connection is never retried.
        for (let k = 0; k < KEEPALIVE_LOOPS && r.error === 'ECONNRESET' && r.reused; k++) {
          retried++
          r = await get(target, agent)
        }
        if (r.error !== undefined || r.status !== 200 || r.body !== 'ok') {
          const how = r.reused ? 'reused connection' : 'new connection'
          failures.push(`${kind} ${target}: ${r.error ?? `${r.status} ${r.body}`} (${how})`)
        } else ok++
      }
    }
    loops = [
      ...Array.from({ length: KEEPALIVE_LOOPS }, (_, i) => loop('keep-alive', i)),
      ...Array.from({ length: FRESH_LOOPS }, (_, i) => loop('fresh', i)),
    ]
    await waitFor(() => ok > 100, { message: 'load flows before the first upgrade' })

    const served: number[] = [g.pid()]
    for (let n = 1; n <= UPGRADES; n++) {
      const build = `build-${n}`
      g.setBuildId(build)
      // A slow request, in flight at the old process when the signal arrives.
      const slowSeen = upstream.requests.filter((r) => r.url === '/slow').length
      const slow = get(`${url}/slow`, false)
      await waitFor(() => upstream.requests.filter((r) => r.url === '/slow').length > slowSeen, {
        message: 'the slow request reached the upstream',
      })
      const old = g.pid()
      const okBefore = ok
      const next = await g.upgrade()
      assert.notEqual(next, old, 'a new process serves')
      served.push(next)
      const health = await request(`${admin}/healthz`)
      const answeredBy = health.json<{ pid: number }>().pid
      if (workers === undefined) assert.equal(answeredBy, next, 'the new process answers')
      else {
        assert.equal(workersOf(g, next).length, workers, 'the new supervisor started its workers')
        assert.ok(workersOf(g, next).includes(answeredBy), 'a new worker answers')
      }
      assert.equal(
        health.json<{ build: string }>().build,
        build,
        'the code that serves is the code on disk at the signal',
      )
      const oldWorkers = workersOf(g, old)
      const slowDone = await slow
      assert.deepEqual(
        [slowDone.status, slowDone.body, slowDone.error],
        [200, 'slow-done', undefined],
        `the 2 s request started before upgrade ${n} completed`,
      )
      await waitFor(() => [old, ...oldWorkers].every((p) => !isRunning(p)), {
        timeoutMs: 15_000,
        message: `old process ${old} (and its workers) exit after the drain`,
      })
      await waitFor(() => ok > okBefore + 50, { message: `load flows after upgrade ${n}` })
    }
    stop = true
    await Promise.all(loops)
    t.diagnostic(
      `${ok} requests ok over ${UPGRADES} upgrades (pids ${served.join(' → ')}); ` +
        `${retried} keep-alive requests re-sent after an idle close`,
    )
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failed requests`)
    assert.equal(new Set(served).size, UPGRADES + 1, 'a distinct pid each time')
    assert.equal(g.linesWith('handed over to the new process').length, UPGRADES)
    for (const pid of served.slice(0, -1)) assert.equal(isRunning(pid), false, `${pid} exited`)
  } finally {
    stop = true
    await Promise.all(loops)
    agent.destroy()
    await gw?.close()
    await upstream.close()
  }
}

test(
  'three hot upgrades under load: no failed request, slow requests finish, new code serves',
  { timeout: 90_000 },
  (t) => upgradesUnderLoad(t),
)

test(
  'the same with --workers 2: every worker is replaced, no failed request',
  { timeout: 90_000 },
  (t) => upgradesUnderLoad(t, 2),
)

test(
  'an upgrade whose new process cannot load its config leaves the old one serving',
  { timeout: 30_000 },
  async () => {
    const upstream = await origin()
    const gw = await startUpgradable(configText(upstream))
    try {
      const { url } = await servingAddresses(gw)
      const old = gw.pid()
      // The running process rejects this edit too (its watcher sees it) and keeps its config.
      writeFileSync(gw.configPath, 'routes: [ { name: broken\n')
      process.kill(old, 'SIGUSR2')
      await waitFor(() => gw.linesWith('hot upgrade failed').length === 1, {
        timeoutMs: 15_000,
        message: 'the upgrade fails',
      })
      const failed = gw.linesWith('hot upgrade failed')[0] as { reason: string; new_pid: number }
      assert.match(failed.reason, /exited \(exit code 1\) before it was ready/)
      assert.equal(isRunning(failed.new_pid), false)
      assert.equal(gw.pid(), old, 'the pid file still names the old process')
      const res = await request(`${url}/after`)
      assert.equal(res.text(), 'ok')

      // Fixed on disk: the next upgrade goes through.
      writeFileSync(gw.configPath, configText(upstream))
      const next = await gw.upgrade()
      assert.notEqual(next, old)
      assert.equal((await request(`${url}/fixed`)).text(), 'ok')
    } finally {
      await gw.close()
      await upstream.close()
    }
  },
)

test(
  'a new process not ready in time is stopped, and a SIGUSR2 during an upgrade is ignored',
  { timeout: 30_000 },
  async () => {
    const upstream = await origin()
    const stall = fileURLToPath(new URL('../helpers/stall-upgrade-child.js', import.meta.url))
    const gw = await startUpgradable(configText(upstream), {
      upgradeTimeout: '1500ms',
      nodeArgs: ['--import', stall],
    })
    try {
      const { url } = await servingAddresses(gw)
      const old = gw.pid()
      process.kill(old, 'SIGUSR2')
      await waitFor(() => gw.linesWith('hot upgrade: new process started').length === 1, {
        message: 'the new process is started',
      })
      process.kill(old, 'SIGUSR2')
      await waitFor(() => gw.linesWith('hot upgrade request ignored').length === 1, {
        message: 'the second SIGUSR2 is ignored',
      })
      await waitFor(() => gw.linesWith('hot upgrade failed').length === 1, {
        timeoutMs: 15_000,
        message: 'the upgrade times out',
      })
      const failed = gw.linesWith('hot upgrade failed')[0] as { reason: string; new_pid: number }
      assert.match(failed.reason, /not ready within 1500 ms/)
      assert.equal(isRunning(failed.new_pid), false, 'the stalled process was stopped')
      assert.equal(gw.linesWith('hot upgrade: new process started').length, 1, 'only one started')
      assert.equal(gw.pid(), old)
      assert.equal((await request(`${url}/still`)).text(), 'ok')
    } finally {
      await gw.close()
      await upstream.close()
    }
  },
)

test(
  'systemd socket activation: a socket passed as LISTEN_FDS is served, not bound again',
  { timeout: 20_000 },
  async (t) => {
    const socket = net.createServer()
    await new Promise<void>((resolve) => socket.listen(0, '127.0.0.1', resolve))
    const port = (socket.address() as net.AddressInfo).port
    const fd = fdOf(socket)
    assert.ok(fd !== null)
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hitless-systemd-'))
    const config = path.join(dir, 'config.yaml')
    writeFileSync(
      config,
      [
        'listeners:',
        // The address is taken: only the inherited socket can serve it.
        `  - { name: public, address: '127.0.0.1:${port}' }`,
        'routes:',
        '  - { name: ping, match: { path: /ping }, respond: { status: 200, body: pong } }',
        '',
      ].join('\n'),
    )
    // systemd sets LISTEN_PID to the pid of the process it execs: `exec` keeps the shell's pid.
    const child = spawn(
      'sh',
      ['-c', `LISTEN_PID=$$ LISTEN_FDS=1 exec "${process.execPath}" "${CLI}" run -c "${config}"`],
      { stdio: ['ignore', 'pipe', 'pipe', fd] },
    )
    t.after(() => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    })
    // The child has its own copy of the socket now; this process stops accepting on it.
    socket.close()
    let out = ''
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d))
    await waitFor(() => out.includes('hitless serving on'), { message: 'the child serves' })
    const res = await request(`http://127.0.0.1:${port}/ping`)
    assert.equal(res.text(), 'pong')
    const exited = onceWithin<[number | null]>(child, 'exit', 10_000)
    process.kill(child.pid ?? 0, 'SIGTERM')
    assert.equal((await exited)[0], 0)
  },
)

test(
  'hitless upgrade --pid-file: signals, waits for the successor, says so',
  {
    timeout: 30_000,
  },
  async () => {
    const upstream = await origin()
    const gw = await startUpgradable(configText(upstream))
    try {
      const old = gw.pid()
      const out = await runCli(['upgrade', '--pid-file', gw.pidFile])
      assert.equal(out.code, 0, out.stderr)
      const next = gw.pid()
      assert.notEqual(next, old)
      assert.equal(out.stdout.trim(), `upgraded: process ${next} serves; ${old} is draining`)
      gw.pids.add(next)

      const missing = await runCli(['upgrade', '--pid-file', `${gw.pidFile}.nope`])
      assert.equal(missing.code, 1)
      assert.match(missing.stderr, /^hitless upgrade: .*no such file/m)
      const usage = await runCli(['upgrade'])
      assert.equal(usage.code, 2)
      assert.match(usage.stderr, /--pid-file FILE is required/)
    } finally {
      await gw.close()
      await upstream.close()
    }
  },
)

/** GET over a unix socket. */
function getUnix(socketPath: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve(body))
    })
    req.setTimeout(5000, () => req.destroy(new Error('timed out')))
    req.on('error', reject)
  })
}

for (const workers of [undefined, 2]) {
  test(
    `a unix-socket listener keeps its path across upgrades${workers === undefined ? '' : ' (--workers 2)'}`,
    { timeout: 30_000 },
    async (t) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'hitless-unix-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      const socketPath = path.join(dir, 'gw.sock')
      const gw = await startUpgradable(
        [
          'listeners:',
          `  - { name: local, address: 'unix:${socketPath}' }`,
          'routes:',
          '  - { name: ping, match: { path: /ping }, respond: { status: 200, body: pong } }',
          '',
        ].join('\n'),
        workers === undefined ? {} : { args: ['--workers', String(workers)] },
      )
      try {
        assert.equal(await getUnix(socketPath, '/ping'), 'pong')
        for (let n = 1; n <= 2; n++) {
          const old = gw.pid()
          await gw.upgrade()
          await waitFor(() => !isRunning(old), { timeoutMs: 15_000, message: 'old exits' })
          assert.equal(await getUnix(socketPath, '/ping'), 'pong', `after upgrade ${n}`)
        }
      } finally {
        await gw.close()
      }
    },
  )
}
