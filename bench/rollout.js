// Roll-out decision latency (issue 6): how long from a failing canary's breach (its
// `min_requests`-th 5xx reaching the client) to its rollback (the gateway's "roll-out rolled
// back" log line), for one process and for `--workers 2` (where the supervisor judges the summed
// counts, reported by each worker every 20 ms). Also: the failing requests served after the
// breach, and the share of traffic the canary took before its rollback.
//
//   npm run build && node bench/rollout.js [--runs 10] [--no-results-md]   (or: npm run bench:rollout)
//
// Two origins in this process (200 and 500); `hitless run` (dist/cli/main.js) on a temporary
// config file; 8 keep-alive GET loops; each run POSTs a new canary document to the admin API.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { alignedTable, median } from './lib/table.js'
import { commandLine, machineInfo, publishSection, sectionHead } from './lib/results-md.js'

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
const MAIN = path.join(path.dirname(BENCH_DIR), 'dist', 'cli', 'main.js')
const HEADING = '## Roll-out decision latency (issue 6)'
const ROLLOUT = { canary_percent: 10, window: '60s', max_error_rate: 0.05, min_requests: 50 }
const LOOPS = 8

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    'no-results-md': { type: 'boolean', default: false },
  },
})
const RUNS = Number(values.runs)
const log = (msg) => process.stderr.write(`[rollout] ${msg}\n`)

async function origin(status, body) {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain' })
    res.end(body)
  })
  server.keepAliveTimeout = 60_000
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${server.address().port}` }
}

function doc(target, run) {
  const lines = [
    'listeners:',
    "  - { name: public, address: '127.0.0.1:0' }",
    "admin: { address: '127.0.0.1:0' }",
    'upstreams:',
    `  app: { targets: [{ url: '${target}' }] }`,
    'routes:',
    '  - name: all',
    '    match: { prefix: / }',
    '    upstream: app',
    `    headers: { request: { set: { x-run: '${run}' } } }`,
  ]
  if (run > 0) lines.push(`rollout: ${JSON.stringify(ROLLOUT)}`)
  return `${lines.join('\n')}\n`
}

/** Starts `hitless run`; resolves once it serves, with its addresses and parsed log lines. */
async function startGateway(file, workers) {
  const args = [MAIN, 'run', '-c', file, ...(workers > 1 ? ['--workers', String(workers)] : [])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = []
  const serving = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hitless did not start')), 20_000)
    child.once('exit', (code) => reject(new Error(`hitless exited with ${code}`)))
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line
      try {
        line = JSON.parse(text)
      } catch {
        return
      }
      lines.push(line)
      if (String(line.msg).startsWith('hitless serving on') && line.admin) {
        clearTimeout(timer)
        resolve({ url: line.listeners[0].address, admin: `http://${line.admin}` })
      }
    })
  })
  return { child, lines, ...(await serving) }
}

function post(url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST' }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve(JSON.parse(text)))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** GET loops recording [time, status]; stop() ends them. */
function load(url) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: LOOPS })
  const answers = []
  let stopped = false
  const loop = async () => {
    for (let i = 0; i < 1_000_000 && !stopped; i++) {
      const status = await new Promise((resolve) => {
        const req = http.get(url, { agent }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode))
        })
        req.on('error', () => resolve(0))
      })
      answers.push([Date.now(), status])
    }
  }
  const loops = Array.from({ length: LOOPS }, () => loop())
  return {
    answers,
    stop: async () => {
      stopped = true
      await Promise.all(loops)
      agent.destroy()
    },
  }
}

async function waitFor(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

async function measure(stableUrl, failingUrl, workers) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hitless-rollout-bench-'))
  const file = path.join(dir, 'hitless.yaml')
  fs.writeFileSync(file, doc(stableUrl, 0))
  const gw = await startGateway(file, workers)
  const traffic = load(`http://${gw.url}/`)
  const results = []
  try {
    if (workers > 1) {
      await waitFor(
        () => gw.lines.filter((l) => l.msg === 'worker ready').length === workers,
        20_000,
        'workers',
      )
    }
    for (let run = 1; run <= RUNS; run++) {
      const before = gw.lines.filter((l) => String(l.msg).startsWith('roll-out rolled back')).length
      const from = traffic.answers.length
      const started = await post(`${gw.admin}/reload`, doc(failingUrl, run))
      if (started.outcome !== 'canary') throw new Error(`run ${run}: ${JSON.stringify(started)}`)
      const rolled = () =>
        gw.lines.filter((l) => String(l.msg).startsWith('roll-out rolled back')).slice(before)
      await waitFor(() => rolled().length === workers, 30_000, `run ${run} rollback`)
      const rollbackAt = Math.max(...rolled().map((l) => l.time))
      // Answers that arrive until then (and a little after, for those in flight).
      await new Promise((r) => setTimeout(r, 200))
      const mine = traffic.answers.slice(from)
      const failures = mine.filter(([, status]) => status === 500)
      const breach = failures[ROLLOUT.min_requests - 1]
      if (breach === undefined) throw new Error(`run ${run}: only ${failures.length} failures`)
      const during = mine.filter(([t]) => t <= rollbackAt)
      results.push({
        latencyMs: rollbackAt - breach[0],
        overshoot: failures.length - ROLLOUT.min_requests,
        share: during.filter(([, s]) => s === 500).length / during.length,
      })
      log(`workers ${workers} run ${run}: ${JSON.stringify(results.at(-1))}`)
    }
  } finally {
    await traffic.stop()
    gw.child.kill('SIGTERM')
    await new Promise((r) => gw.child.once('exit', r))
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return results
}

if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`)
const stable = await origin(200, 'stable')
const failing = await origin(500, 'failing')
const rows = []
try {
  for (const workers of [1, 2]) {
    const results = await measure(stable.url, failing.url, workers)
    const latencies = results.map((r) => r.latencyMs)
    rows.push([
      workers === 1 ? 'one process' : `--workers ${workers}`,
      String(results.length),
      String(median(latencies)),
      String(Math.max(...latencies)),
      String(median(results.map((r) => r.overshoot))),
      String(Math.max(...results.map((r) => r.overshoot))),
      `${(median(results.map((r) => r.share)) * 100).toFixed(1)}%`,
      `${(Math.max(...results.map((r) => r.share)) * 100).toFixed(1)}%`,
    ])
  }
} finally {
  stable.server.close()
  failing.server.close()
  stable.server.closeAllConnections()
  failing.server.closeAllConnections()
}
const table = alignedTable(
  [
    ['gateway', 'left'],
    ['runs', 'right'],
    ['breach → rollback p50 ms', 'right'],
    ['max ms', 'right'],
    ['5xx after breach p50', 'right'],
    ['max', 'right'],
    ['canary share p50', 'right'],
    ['max', 'right'],
  ],
  rows,
)
const machine = machineInfo()
const section = [
  ...sectionHead(HEADING, machine, commandLine('bench:rollout'), ' (after `npm run build`)'),
  `- Canary: \`${JSON.stringify(ROLLOUT)}\`, its route on an upstream answering 500; ${LOOPS} keep-alive GET loops.`,
  "- Breach: the client receives the canary's `min_requests`-th 500. Rollback: the time of the gateway's \"roll-out rolled back\" log line (the last worker's, with `--workers`). Same clock, so a few ms either way are the log's and the client's own latency.",
  '- "5xx after breach": failing answers beyond `min_requests` (requests already on the canary when it was rolled back, or assigned before the decision). Canary share: the 500s among all answers from the canary\'s start to its rollback (target: at most `canary_percent` + 5 points).',
  '',
  table,
  '',
].join('\n')
await publishSection(section, HEADING, { noResultsMd: values['no-results-md'], log })
