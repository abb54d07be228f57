// Hot-upgrade benchmark (issue 4): how long from SIGUSR2 to the new process serving, under a
// light keep-alive load, over a series of successive upgrades of the real CLI (dist/cli/main.js).
//
//   node bench/upgrade.js [--upgrades 20] [--no-results-md]      (or: npm run bench:upgrade)
//
// For each upgrade: SIGUSR2 to the pid in the pid file, then GET /healthz on the admin API every
// 2 ms until it answers with another pid (the new process accepts and answers on the shared
// socket), then until the pid file names it, then until the old process has exited (its drain
// over). Meanwhile 4 keep-alive clients send GETs through the gateway to a trivial origin, and
// every failed request is counted (a keep-alive request sent again after an idle close, as
// clients do, is counted apart).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { commandLine, machineInfo, sectionHead, publishSection } from './lib/results-md.js'

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
const REPO_DIR = path.dirname(BENCH_DIR)
const HEADING = '## Hot upgrade (issue 4)'
const LOAD_CLIENTS = 4

const { values } = parseArgs({
  options: {
    upgrades: { type: 'string', default: '20' },
    'no-results-md': { type: 'boolean', default: false },
  },
})
const UPGRADES = Number(values.upgrades)
const log = (msg) => process.stderr.write(`[upgrade] ${msg}\n`)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// Sockets that carried a complete exchange: a request on one is on a reused connection (Node's
// req.reusedSocket misses a socket handed straight from one queued request to the next).
const usedSockets = new WeakSet()

function get(url, agent) {
  return new Promise((resolve) => {
    let reused = false
    const req = http.get(url, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => {
        usedSockets.add(req.socket)
        resolve({ status: res.statusCode, body, reused })
      })
      res.on('error', (err) => resolve({ error: err.message, reused }))
    })
    req.on('socket', (s) => (reused = req.reusedSocket || usedSockets.has(s)))
    req.setTimeout(5000, () => req.destroy(new Error('timeout')))
    req.on('error', (err) => resolve({ error: err.code ?? err.message, reused }))
  })
}

function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'
  } catch {
    return false
  }
}

function readPid(file) {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim()) || null
  } catch {
    return null
  }
}

async function until(cond, timeoutMs, what) {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (await cond()) return performance.now()
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]
}

async function main() {
  const cli = path.join(REPO_DIR, 'dist', 'cli', 'main.js')
  if (!fs.existsSync(cli)) throw new Error('dist/cli/main.js is missing: run `npm run build` first')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hitless-upgrade-bench-'))
  const origin = http.createServer((_req, res) => res.end('ok'))
  await new Promise((r) => origin.listen(0, '127.0.0.1', r))
  const config = path.join(dir, 'config.yaml')
  const pidFile = path.join(dir, 'hitless.pid')
  fs.writeFileSync(
    config,
    [
      'listeners:',
      "  - { name: public, address: '127.0.0.1:0' }",
      "admin: { address: '127.0.0.1:0' }",
      'defaults: { drain_timeout: 5s }',
      'upstreams:',
      `  app: { targets: [{ url: 'http://127.0.0.1:${origin.address().port}' }] }`,
      'routes:',
      '  - { name: all, match: { prefix: / }, upstream: app }',
      '',
    ].join('\n'),
  )
  const child = spawn(
    process.execPath,
    [cli, 'run', '-c', config, '--pid-file', pidFile, '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  const pids = new Set([child.pid])
  const stopAll = () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
  }
  process.on('exit', stopAll)
  let stop = false
  const agent = new http.Agent({ keepAlive: true, maxSockets: LOAD_CLIENTS })
  const counts = { ok: 0, failed: 0, resent: 0 }
  let loops = []
  try {
    await until(() => readPid(pidFile) === child.pid, 20_000, 'the gateway to start')
    // Ports from /proc are not needed: the gateway's addresses come from its admin's own answer.
    const { listen, admin } = await findAddresses(child.pid)
    const url = `http://${listen}`
    const healthz = `http://${admin}/healthz`
    loops = Array.from({ length: LOAD_CLIENTS }, async () => {
      while (!stop) {
        let r = await get(`${url}/x`, agent)
        for (let k = 0; k < LOAD_CLIENTS && r.error === 'ECONNRESET' && r.reused; k++) {
          counts.resent++
          r = await get(`${url}/x`, agent)
        }
        if (r.status === 200) counts.ok++
        else {
          counts.failed++
          log(`failed: ${JSON.stringify(r)}`)
        }
      }
    })
    await sleep(500)
    const serving = []
    const pidFileMs = []
    const drainedMs = []
    for (let i = 1; i <= UPGRADES; i++) {
      const old = readPid(pidFile)
      const t0 = performance.now()
      process.kill(old, 'SIGUSR2')
      let next = null
      const t1 = await until(
        async () => {
          const r = await get(healthz, false)
          if (r.status !== 200) return false
          const pid = JSON.parse(r.body).pid
          if (pid !== old) next = pid
          return next !== null
        },
        30_000,
        `a new process answering /healthz (upgrade ${i})`,
      )
      pids.add(next)
      const t2 = await until(() => readPid(pidFile) === next, 30_000, 'the pid file')
      const t3 = await until(() => !alive(old), 30_000, `process ${old} to exit`)
      serving.push(t1 - t0)
      pidFileMs.push(t2 - t0)
      drainedMs.push(t3 - t0)
      log(
        `upgrade ${i}: ${old} → ${next}: serving after ${(t1 - t0).toFixed(0)} ms, ` +
          `pid file ${(t2 - t0).toFixed(0)} ms, old exited ${(t3 - t0).toFixed(0)} ms`,
      )
      await sleep(200)
    }
    stop = true
    await Promise.all(loops)
    return { serving, pidFileMs, drainedMs, counts }
  } finally {
    stop = true
    await Promise.all(loops)
    agent.destroy()
    const pid = readPid(pidFile)
    if (pid !== null && alive(pid)) process.kill(pid, 'SIGTERM')
    await until(() => [...pids].every((p) => !alive(p)), 10_000, 'every process to exit').catch(
      stopAll,
    )
    origin.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The public and admin addresses of the gateway, from its listening sockets in /proc. */
async function findAddresses(pid) {
  const inodes = new Set()
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`) ?? '')
    if (m) inodes.add(m[1])
  }
  const ports = []
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/)
    if (cols[3] === '0A' && inodes.has(cols[9]))
      ports.push(`127.0.0.1:${parseInt(cols[1].split(':')[1], 16)}`)
  }
  // One of the two answers /healthz: that one is the admin API.
  for (const candidate of ports) {
    const r = await get(`http://${candidate}/healthz`, false)
    if (r.status === 200 && r.body.includes('"pid"')) {
      return { admin: candidate, listen: ports.find((p) => p !== candidate) }
    }
  }
  throw new Error(`cannot tell the listeners apart: ${ports.join(', ')}`)
}

const result = await main()
const sorted = (a) => [...a].sort((x, y) => x - y)
const row = (name, values) => {
  const s = sorted(values)
  return `| ${name} | ${pct(s, 0.5).toFixed(0)} | ${pct(s, 0.99).toFixed(0)} | ${s[s.length - 1].toFixed(0)} |`
}
const machine = machineInfo()
const section = [
  ...sectionHead(HEADING, machine, commandLine('bench:upgrade'), ' (after `npm run build`)'),
  `- ${UPGRADES} successive SIGUSR2 upgrades of one \`hitless run --pid-file\` (each new process ` +
    `is a fresh Node process loading dist/), unpinned, under ${LOAD_CLIENTS} keep-alive clients ` +
    'sending GETs back to back through the gateway; times in ms from the signal.',
  '',
  '| from SIGUSR2 to … | p50 ms | p99 ms | max ms |',
  '| --- | ---: | ---: | ---: |',
  row('the new process answering `GET /healthz` on the shared admin socket', result.serving),
  row('the pid file naming the new process', result.pidFileMs),
  row('the old process exited (drain over)', result.drainedMs),
  '',
  `- Load during the upgrades: ${result.counts.ok} requests answered 200, ` +
    `**${result.counts.failed} failed**; ${result.counts.resent} times a keep-alive request was ` +
    'sent again because the old process closed its idle connection as the client wrote on it ' +
    '(the race RFC 9112 §9.3.1 lets clients retry; a request on a new connection is never ' +
    'retried, and none failed).',
  '',
].join('\n')
await publishSection(section, HEADING, { noResultsMd: values['no-results-md'], log })
