// Macro benchmark (issue 2): h2load → candidate proxy → nginx, on one machine, pinned to separate
// cores. Interleaved rounds over scenarios × candidates; medians, CPU per request, ratios against
// the bench's own minimal proxy and against nginx direct. See bench/README.md.
//
//   node bench/run.js [--rounds 3] [--duration 5] [--warmup 1] [--only a,b] [--scenarios x,y]
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { CANDIDATES, hitlessBuild, selectCandidates } from './lib/candidates.js'
import { checkCandidate } from './lib/check.js'
import { startNginx } from './lib/nginx.js'
import {
  clockTicks,
  cpuMicrosPerRequest,
  readCpuTicks,
  readMachineBusyTicks,
  readSelfAndChildrenTicks,
  readTreeCpuTicks,
} from './lib/proc-cpu.js'
import { pinning, runWithCleanup } from './lib/procs.js'
import { commandLine, machineInfo, renderSection, writeSection } from './lib/results-md.js'
import { EXTRA_HEADERS, SCENARIOS, selectScenarios } from './lib/scenarios.js'
import { ensureDeps, ensureTools } from './lib/setup.js'
import { renderTable, summarise } from './lib/table.js'
import { bodyFile, errorCount, runLoad } from './lib/load.js'

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
const REPO_DIR = path.dirname(BENCH_DIR)

const USAGE = `usage: node bench/run.js [options]      (or: npm run bench -- [options])
  --rounds N          interleaved rounds (env BENCH_ROUNDS, default 3)
  --duration S        seconds of each measured load run (env BENCH_DURATION, default 5)
  --warmup S          seconds of the unrecorded warm-up run before each (env BENCH_WARMUP, default 1; 0 = none)
  --only a,b          candidates (env BENCH_ONLY): ${CANDIDATES.map((c) => c.name).join(', ')}
  --scenarios x,y     scenario ids or id prefixes (env BENCH_SCENARIOS): ${SCENARIOS.map((s) => s.id).join(', ')}
  --max-other-load C  re-measure a cell when other processes used more than C cores meanwhile
                      (env BENCH_MAX_OTHER_LOAD, default 0.25)
  --retries N         at most N re-measurements per cell (env BENCH_RETRIES, default 2)
  --no-results-md     do not update bench/RESULTS.md (the table is still printed and saved as JSON)
  --keep-tmp          keep the temp dir (configs, nginx and proxy stderr logs)`

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`)

function options() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      only: { type: 'string' },
      scenarios: { type: 'string' },
      'max-other-load': { type: 'string' },
      retries: { type: 'string' },
      'no-results-md': { type: 'boolean', default: false },
      'keep-tmp': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const env = process.env
  const int = (name, v, min) => {
    const n = Number(String(v).replace(/s$/, ''))
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} must be an integer ≥ ${min}, got ${v}`)
    return n
  }
  const list = (v) =>
    v
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined
  return {
    help: values.help,
    rounds: int('rounds', values.rounds ?? env.BENCH_ROUNDS ?? 3, 1),
    durationS: int('duration', values.duration ?? env.BENCH_DURATION ?? 5, 1),
    warmupS: int('warmup', values.warmup ?? env.BENCH_WARMUP ?? 1, 0),
    retries: int('retries', values.retries ?? env.BENCH_RETRIES ?? 2, 0),
    maxOtherLoad: Number(values['max-other-load'] ?? env.BENCH_MAX_OTHER_LOAD ?? 0.25),
    only: list(values.only ?? env.BENCH_ONLY),
    scenarios: list(values.scenarios ?? env.BENCH_SCENARIOS),
    writeResultsMd: !values['no-results-md'],
    keepTmp: values['keep-tmp'],
  }
}

/** Starts one candidate and checks it; returns Running (+ warnings) or { failed }. */
async function startCandidate(cand, ctx) {
  let running
  try {
    running = await cand.start(ctx)
  } catch (err) {
    log(`${cand.name}: ${err.message}`)
    return { failed: err.message.split('\n')[0] }
  }
  const { fatal, warnings } = await checkCandidate(cand.name, running)
  for (const w of warnings) log(`${cand.name}: WARNING ${w}`)
  if (fatal.length) {
    log(`${cand.name}: failed its pre-flight check: ${fatal.join('; ')}`)
    await running.stop()
    return { failed: `pre-flight check: ${fatal.join('; ')}` }
  }
  return { ...running, warnings }
}

/** One cell: warm-up run, then the measured run between two CPU and connection readings. */
async function measure({ round, scenario, cand, running, origin, settings, core, tmpDir }) {
  const base = { round, scenario: scenario.id, candidate: cand.name }
  if (running.failed) return { ...base, failed: running.failed }
  if (readCpuTicks(running.pid) === null) return { ...base, failed: 'process is not running' }
  const loadOpts = {
    url: `http://127.0.0.1:${running.port}${running.pathPrefix}${scenario.path}`,
    connections: scenario.connections,
    body: scenario.bodyBytes ? bodyFile(tmpDir, scenario.bodyBytes) : undefined,
    headers: EXTRA_HEADERS,
    core,
    tmpDir,
  }
  if (settings.warmupS > 0) await runLoad({ ...loadOpts, durationS: settings.warmupS })
  const conns0 = await origin.acceptedConnections()
  const [cpu0, origin0, ours0, machine0] = cpuReadings(running.pid, origin.pid)
  const t0 = process.hrtime.bigint()
  const r = await runLoad({ ...loadOpts, durationS: settings.durationS })
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const [cpu1, origin1, ours1, machine1] = cpuReadings(running.pid, origin.pid)
  const conns1 = await origin.acceptedConnections()
  // CPU used on this machine by anything but h2load, the harness, the candidate and nginx: other
  // people's builds and tests running at the same time (the numbers are then not trustworthy).
  const proxyTicks = running.pid === origin.pid ? 0 : cpu1 - cpu0
  const otherTicks = machine1 - machine0 - (ours1 - ours0) - proxyTicks - (origin1 - origin0)
  if (r.failed) return { ...base, failed: r.failed, loadText: r.text }
  if (cpu1 === null) return { ...base, failed: 'process exited during the run', loadText: r.text }
  return {
    ...base,
    requests: r.requests,
    rps: r.rps,
    latencyUs: r.latencyUs,
    errors: r.errors,
    cpuUsPerReq: cpuMicrosPerRequest(cpu0, cpu1, r.requests),
    originCpuUsPerReq: cpuMicrosPerRequest(origin0, origin1, r.requests),
    // The second stub_status request's own connection is counted too: hence the - 1.
    originConns: conns0 === null || conns1 === null ? null : conns1 - conns0 - 1,
    otherLoadCores: Math.max(0, otherTicks / clockTicks() / seconds),
    warnings: running.warnings,
    load: r.args,
    loadText: r.text,
  }
}

/** measure(), again while other processes disturbed it (the least disturbed run is kept). */
async function measureCell(args) {
  const { settings } = args
  let best
  for (let attempt = 1; attempt <= settings.retries + 1; attempt++) {
    const s = { ...(await measure(args)), attempts: attempt }
    if (s.failed) return s
    if (!best || s.otherLoadCores < best.otherLoadCores) best = s
    if (s.otherLoadCores <= settings.maxOtherLoad || attempt > settings.retries) break
    const what = `${args.scenario.id} ${args.cand.name}`
    log(`${what}: other processes used ${s.otherLoadCores.toFixed(2)} cores meanwhile, again`)
  }
  return best
}

function cpuReadings(pid, originPid) {
  const self = readSelfAndChildrenTicks()
  return [readTreeCpuTicks(pid), readCpuTicks(originPid), self, readMachineBusyTicks()]
}

function describe(s) {
  if (s.failed) return `FAILED ${s.failed}`
  const errs = errorCount(s.errors)
  return (
    `${Math.round(s.rps)} req/s, p50 ${(s.latencyUs.p50 / 1000).toFixed(3)} ms, ` +
    `p99 ${(s.latencyUs.p99 / 1000).toFixed(3)} ms, ${s.cpuUsPerReq?.toFixed(1)} µs CPU/req` +
    `, other load ${s.otherLoadCores.toFixed(2)} cores` +
    (errs ? `, ${errs} ERRORS ${JSON.stringify(s.errors)}` : '')
  )
}

async function bench(opts, tmpDir) {
  const pin = pinning()
  if (!pin.enabled)
    log(`WARNING: nproc = ${pin.cores} < 2, running unpinned (numbers are less meaningful)`)
  const scenarios = selectScenarios(opts.scenarios)
  const candidates = selectCandidates(opts.only)
  const origin = await startNginx(tmpDir, pin.origin)
  log(`nginx origin on ${origin.url} (pid ${origin.pid})`)
  const ctx = { benchDir: BENCH_DIR, repoDir: REPO_DIR, tmpDir, origin, core: pin.server }
  const skipped = {}
  for (const c of candidates) {
    const why = c.unavailable(ctx)
    if (why) {
      skipped[c.name] = why
      log(`${c.name}: skipped, ${why}`)
    }
  }
  const active = candidates.filter((c) => !skipped[c.name])
  const settings = {
    rounds: opts.rounds,
    durationS: opts.durationS,
    warmupS: opts.warmupS,
    retries: opts.retries,
    maxOtherLoad: opts.maxOtherLoad,
  }
  const samples = []
  for (let round = 1; round <= opts.rounds; round++) {
    const shift = (round - 1) % Math.max(1, active.length)
    const order = [...active.slice(shift), ...active.slice(0, shift)]
    const running = new Map()
    for (const cand of order) running.set(cand.name, await startCandidate(cand, ctx))
    for (const scenario of scenarios) {
      for (const cand of order) {
        const args = {
          round,
          scenario,
          cand,
          running: running.get(cand.name),
          origin,
          settings,
          tmpDir,
        }
        const sample = await measureCell({ ...args, core: pin.load })
        log(`round ${round}/${opts.rounds} ${scenario.id} ${cand.name}: ${describe(sample)}`)
        samples.push(sample)
      }
    }
    for (const r of running.values()) if (!r.failed) await r.stop()
  }
  await origin.stop()
  const names = candidates.map((c) => c.name)
  const rows = summarise({ scenarios, candidates: names, samples, skipped })
  const measured = active.some((c) => c.name === 'hitless')
  return { pin, settings, samples, rows, hitless: measured ? hitlessBuild(ctx) : null }
}

async function main(opts, tmpDir) {
  ensureTools(log)
  ensureDeps(BENCH_DIR, log)
  const machine = machineInfo()
  const command = commandLine('bench')
  const { pin, settings, samples, rows, hitless } = await bench(opts, tmpDir)
  const table = renderTable(rows)
  process.stdout.write(`${table}\n`)

  const notes = []
  const failedRows = rows.filter((r) => r.rps !== undefined && r.rounds === 0)
  if (failedRows.length)
    notes.push(
      `Not measured (failed): ${failedRows.map((r) => `${r.candidate} ${r.scenario}`).join(', ')}.`,
    )
  const withErrors = rows.filter((r) => r.errors && errorCount(r.errors) > 0)
  if (withErrors.length) {
    notes.push(
      `**Errors** (socket errors or non-2xx, summed over rounds) in: ${withErrors.map((r) => `${r.candidate} ${r.scenario}`).join(', ')}.`,
    )
  }
  const disturbed = rows.filter((r) => r.otherLoadCores > opts.maxOtherLoad)
  if (disturbed.length) {
    notes.push(
      `**Disturbed**: other processes on the machine used more than ${opts.maxOtherLoad} cores ` +
        `(median over rounds) during: ${disturbed.map((r) => `${r.candidate} ${r.scenario}`).join(', ')}; ` +
        'treat those numbers with suspicion and run again on a quiet machine.',
    )
  }
  const resultsDir = path.join(BENCH_DIR, 'results')
  fs.mkdirSync(resultsDir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const jsonFile = path.join(resultsDir, `proxy-throughput-${stamp}.json`)
  const meta = {
    machine,
    command,
    settings,
    pin,
    hitless,
    scenarios: selectScenarios(opts.scenarios),
  }
  fs.writeFileSync(jsonFile, `${JSON.stringify({ meta, rows, samples }, null, 2)}\n`)
  log(`raw results: ${path.relative(process.cwd(), jsonFile)}`)
  if (opts.writeResultsMd) {
    const file = path.join(BENCH_DIR, 'RESULTS.md')
    await writeSection(
      file,
      renderSection({ machine, command, settings, pin, hitless, table, notes }),
    )
    log(`updated ${path.relative(process.cwd(), file)}`)
  }
}

let opts
try {
  opts = options()
} catch (err) {
  console.error(`${err.message}\n${USAGE}`)
  process.exitCode = 2
}
if (opts?.help) {
  console.log(USAGE)
} else if (opts) {
  runWithCleanup((tmpDir) => main(opts, tmpDir), { keepTmp: opts.keepTmp, log })
}
