// Hot-reload benchmark (issue 3): how fast a new config is served, what a 10,000-route rebuild
// costs, what a storm of reloads does to throughput, and whether memory stays flat over 1,000
// reloads. The gateway is the real CLI (dist/cli/main.js) in front of the macro benchmark's
// nginx origin, pinned like bench/run.js. See bench/README.md, "Hot reload".
//
//   node bench/reload.js [--phases visible,big,storm,rss] [--reloads 100] [--cpu-prof] ...
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Client } from 'undici'
import { hitlessBuild, hitlessMain } from './lib/candidates.js'
import { formatProfile, summariseProfile } from './lib/cpu-profile.js'
import { startNginx } from './lib/nginx.js'
import { clockTicks, readTreeCpuTicks, startOtherLoadMeter } from './lib/proc-cpu.js'
import { pinning, runWithCleanup } from './lib/procs.js'
import { measureVisible, percentile, pollClient, sleep, startLoad } from './lib/reload-client.js'
import { BENCH_PATH, MARKER_PATH, docText, loadPaths, reloadDoc } from './lib/reload-docs.js'
import { startReloadGateway } from './lib/reload-gateway.js'
import { commandLine, machineInfo, sectionHead, writeSection } from './lib/results-md.js'
import { EXTRA_HEADERS } from './lib/scenarios.js'
import { ensureDeps, ensureTools } from './lib/setup.js'
import { alignedTable, median } from './lib/table.js'
import { errorCount, runLoad } from './lib/load.js'

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
const REPO_DIR = path.dirname(BENCH_DIR)
const HEADING = '## Hot reload (issue 3)'
const PHASES = ['visible', 'big', 'storm', 'rss']
const MAX_ADMIN_BODY_BYTES = 1024 * 1024

/** The targets of issue 3, compared against (never adjusted to) the measurements. */
const TARGETS = {
  adminP99Ms: 20,
  fileP99Ms: 250,
  bigMs: 200,
  stormRatio: 0.9,
  rssRatio: 1.1,
}

const USAGE = `usage: node bench/reload.js [options]      (or: npm run bench:reload -- [options])
  --phases a,b        which measurements (default all): ${PHASES.join(', ')}
  --reloads N         visible: reloads per trigger (admin API, file watcher), default 100
  --routes N          big: routes of the big documents, default 10000
  --big-reloads N     big: reloads of the big documents, default 10
  --rounds N          storm: interleaved steady/storm rounds, default 5
  --duration S        storm: seconds of each measured load run, default 5
  --warmup S          storm: seconds of the unrecorded load run before each, default 1
  --connections C     storm: load connections, default 64
  --storm-interval MS storm: one reload every MS ms, default 100
  --max-other-load C  storm: measure a run again when other processes used more than C cores
                      meanwhile (default 0.25; the least disturbed of the tries is kept)
  --retries N         storm: at most N re-measurements of a disturbed run (default 2)
  --rss-reloads N     rss: reloads, default 1000
  --routes-small N    generated routes of the documents of visible, storm and rss, default 100
  --load-rate R       big, rss: requests per second of the light constant load, default 200
  --cpu-prof          big, storm (round 1): run the gateway with --cpu-prof and summarise
                      where the time goes
  --no-results-md     do not update bench/RESULTS.md (the report is still printed and saved)
  --keep-tmp          keep the temp dir (configs, stderr logs, CPU profile)`

const log = (msg) => process.stderr.write(`[reload] ${msg}\n`)

function options() {
  const { values } = parseArgs({
    options: {
      phases: { type: 'string' },
      reloads: { type: 'string' },
      routes: { type: 'string' },
      'big-reloads': { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      'storm-interval': { type: 'string' },
      'max-other-load': { type: 'string' },
      retries: { type: 'string' },
      'rss-reloads': { type: 'string' },
      'routes-small': { type: 'string' },
      'load-rate': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'no-results-md': { type: 'boolean', default: false },
      'keep-tmp': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const int = (name, fallback, min) => {
    const v = values[name] ?? fallback
    const n = Number(String(v).replace(/(ms|s)$/, ''))
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} must be an integer ≥ ${min}, got ${v}`)
    return n
  }
  const phases = values.phases ? values.phases.split(',').map((s) => s.trim()) : PHASES
  const unknown = phases.filter((p) => !PHASES.includes(p))
  if (unknown.length) throw new Error(`unknown phase ${unknown.join(', ')}; known: ${PHASES}`)
  return {
    help: values.help,
    phases,
    reloads: int('reloads', 100, 1),
    routes: int('routes', 10_000, 1),
    bigReloads: int('big-reloads', 10, 1),
    rounds: int('rounds', 5, 1),
    durationS: int('duration', 5, 1),
    warmupS: int('warmup', 1, 0),
    connections: int('connections', 64, 1),
    stormIntervalMs: int('storm-interval', 100, 1),
    maxOtherLoad: Number(values['max-other-load'] ?? 0.25),
    retries: int('retries', 2, 0),
    rssReloads: int('rss-reloads', 1000, 1),
    smallRoutes: int('routes-small', 100, 0),
    loadRate: int('load-rate', 200, 1),
    cpuProf: values['cpu-prof'],
    writeResultsMd: !values['no-results-md'],
    keepTmp: values['keep-tmp'],
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Trigger → first response on the new version (admin API and file watcher)
// ---------------------------------------------------------------------------------------------

/**
 * One reload, triggered by `how`, timed by measureVisible on GET /__marker. admin: the file is
 * rewritten first (untimed), then the clock starts and POST /reload re-reads it; the watcher
 * then sees the same file and finds it unchanged, which is waited for so that it does not
 * overlap the next measurement. file: the clock starts, the file is rewritten, the watcher
 * (100 ms debounce) applies it.
 */
async function visibleOnce(gw, client, how, marker, text) {
  const from = gw.events.length
  if (how === 'admin') gw.writeConfig(text)
  const r = await measureVisible({
    client,
    path: MARKER_PATH,
    read: (_res, body) => body,
    expected: marker,
    trigger: how === 'admin' ? () => gw.reload() : async () => gw.writeConfig(text),
    timeoutMs: 5000,
  })
  const applied = await gw.waitForEvent(
    (e) => e.msg === 'config applied' && e.source === how && e.config_version !== undefined,
    { from },
  )
  if (how === 'admin') {
    const redundant = (e) => e.source === 'file' && e.msg.startsWith('config unchanged')
    await gw.waitForEvent(redundant, { from, timeoutMs: 3000 })
  }
  const post = r.triggerResult
  return {
    how,
    visibleMs: r.visibleMs,
    applyMs: applied?.apply_ms ?? null,
    appliedBy: applied?.source ?? null,
    postMs: post?.ms ?? null,
    postOutcome: post ? (post.json?.outcome ?? `HTTP ${post.status}`) : null,
    polls: r.polls,
    stale: r.stale,
    errors: r.status,
  }
}

async function phaseVisible(ctx, opts) {
  const docFor = (ports, marker, variant) =>
    reloadDoc({
      ...ports,
      originPort: ctx.origin.port,
      marker,
      variant,
      routes: opts.smallRoutes,
    })
  const gw = await startReloadGateway(ctx, {
    name: 'visible',
    logs: true,
    makeDoc: (ports) => docFor(ports, 'v0', 0),
  })
  const ports = { port: gw.port, adminPort: gw.adminPort }
  const client = pollClient(gw.url)
  const samples = []
  const other = startOtherLoadMeter([gw.pid, ctx.origin.pid])
  let otherLoadCores
  try {
    for (let k = 1; k <= opts.reloads; k++) {
      // Alternate which trigger goes first, so that neither always follows the other.
      for (const how of k % 2 ? ['admin', 'file'] : ['file', 'admin']) {
        const marker = `${how}-${k}`
        const s = await visibleOnce(gw, client, how, marker, docText(docFor(ports, marker, k % 2)))
        samples.push(s)
      }
      if (k % 20 === 0) log(`visible: ${k}/${opts.reloads} reloads per trigger`)
    }
    otherLoadCores = other()
  } finally {
    await client.close()
    await gw.stop()
  }
  const summary = (how) => {
    const mine = samples.filter((s) => s.how === how)
    const vis = mine.map((s) => s.visibleMs).filter((v) => v !== null)
    const sorted = [...vis].sort((a, b) => a - b)
    return {
      how,
      reloads: mine.length,
      seen: vis.length,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.at(-1) ?? null,
      applyP50Ms: median(mine.map((s) => s.applyMs)),
      postP50Ms: median(mine.map((s) => s.postMs)),
      // Applied by the other trigger (or never logged): a measurement that did not measure `how`.
      wrongSource: mine.filter((s) => s.appliedBy !== how).length,
      notApplied: mine.filter((s) => how === 'admin' && s.postOutcome !== 'applied').length,
      stale: mine.reduce((n, s) => n + s.stale, 0),
      errors: mine.reduce((n, s) => n + s.errors, 0),
      polls: mine.reduce((n, s) => n + s.polls, 0),
    }
  }
  return { admin: summary('admin'), file: summary('file'), otherLoadCores, samples }
}

/** The summary of the one .cpuprofile in dir (logged to stderr), or null. */
function readProfile(dir, what, windowUs) {
  const file = fs.existsSync(dir) && fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) {
    log(`${what}: no .cpuprofile written (did the gateway exit cleanly?)`)
    return null
  }
  const profile = summariseProfile(path.join(dir, file), {
    repoDir: REPO_DIR,
    top: 40,
    groups: PROFILE_GROUPS,
    windowUs,
  })
  for (const line of formatProfile({ ...profile, total: profile.total.slice(0, 15) }))
    log(`${what} profile: ${line}`)
  return { ...profile, file: path.join(dir, file) }
}

/** Stack frames that make a CPU sample part of a reload (admin request, apply pipeline). */
const PROFILE_GROUPS = {
  reload: /^(loadConfig|buildSnapshot) |lifecycle\/reload\.js|\/admin\//,
  load: /^loadConfig /,
  build: /^buildSnapshot /,
  // The stages of loadConfig and buildSnapshot (src/config/load.ts, src/snapshot/build.ts).
  parse: /^parseConfigText /,
  interpolate: /^interpolate /,
  validate: /^validateDocument /,
  normalise: /^normalizeConfig /,
  version: /^versionOf /,
  freeze: /^deepFreeze /,
  router: /^createRouter /,
}

const STAGES = [
  ['parse', 'parse (YAML parser, also for JSON)'],
  ['interpolate', 'interpolate'],
  ['validate', 'validate'],
  ['normalise', 'normalise'],
  ['version', 'version id (canonical JSON + sha256)'],
  ['freeze', 'deep freeze'],
  ['build', 'snapshot build'],
  ['router', 'of which the router'],
]

/** "parse 380 ms, interpolate 300 ms, …": profile time per load, by stage. */
function stageBreakdown(p, loads) {
  return STAGES.map(([key, label]) => `${label} ${ms(p.groups[key] / loads, 1)} ms`).join(', ')
}

/** Where a profile's busy time went, in the reload pipeline's terms. */
function profileShares(p) {
  const pct = (v) => (v == null ? '—' : `${((100 * v) / Math.max(1, p.busyMs)).toFixed(0)} %`)
  return (
    `of ${p.busyMs} ms busy, ${pct(p.groups.reload)} in reloads (admin request and apply ` +
    `pipeline), of which config loading (\`loadConfig\`: parse, interpolate, validate, ` +
    `normalise, version id) ${pct(p.groups.load)} and snapshot build (\`buildSnapshot\`) ` +
    `${pct(p.groups.build)}; garbage collection (not attributed) ${pct(p.gcMs)}`
  )
}

// ---------------------------------------------------------------------------------------------
// 2. Build and swap of a 10,000-route config under a light constant load
// ---------------------------------------------------------------------------------------------

async function phaseBig(ctx, opts) {
  const docFor = (ports, j) =>
    reloadDoc({
      ...ports,
      originPort: ctx.origin.port,
      marker: `big-${j}`,
      variant: j % 2,
      routes: opts.routes,
    })
  const profDir = path.join(ctx.tmpDir, 'cpu-prof')
  const gw = await startReloadGateway(ctx, {
    name: 'big',
    logs: true,
    makeDoc: (ports) => docFor(ports, 0),
    nodeArgs: opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
    timeoutMs: 120_000,
  })
  const ports = { port: gw.port, adminPort: gw.adminPort }
  const bytes = Buffer.byteLength(docText(docFor(ports, 1)))
  if (bytes > MAX_ADMIN_BODY_BYTES) {
    await gw.stop()
    throw new Error(`the ${opts.routes}-route document is ${bytes} bytes, over the admin's 1 MiB`)
  }
  const started = await gw.waitForEvent((e) => e.source === 'start', { timeoutMs: 1000 })
  const paths = [...loadPaths(opts.routes), MARKER_PATH, BENCH_PATH]
  const load = startLoad({ url: gw.url, paths, rate: opts.loadRate })
  const other = startOtherLoadMeter([gw.pid, ctx.origin.pid])
  const samples = []
  let loadResult
  let otherLoadCores
  try {
    await sleep(1000)
    for (let j = 1; j <= opts.bigReloads; j++) {
      const from = gw.events.length
      const res = await gw.reload(docText(docFor(ports, j)))
      const version = res.json?.version
      const ev = await gw.waitForEvent(
        (e) => e.msg === 'config applied' && e.config_version === version,
        { from },
      )
      samples.push({
        outcome: res.json?.outcome ?? `HTTP ${res.status}`,
        applyMs: ev?.apply_ms ?? null,
        postMs: res.ms,
      })
      log(
        `big: reload ${j}/${opts.bigReloads}: apply_ms ${ev?.apply_ms}, POST ${res.ms.toFixed(0)} ms`,
      )
      // Let the load run between rebuilds, as it would between real config changes.
      await sleep(300)
    }
  } finally {
    loadResult = await load.stop()
    otherLoadCores = other()
    await gw.stop()
  }
  const apply = samples.map((s) => s.applyMs).filter((v) => v !== null)
  const post = samples.map((s) => s.postMs)
  const profile = opts.cpuProf ? readProfile(profDir, 'big') : null
  return {
    routes: opts.routes,
    documentBytes: bytes,
    startApplyMs: started?.apply_ms ?? null,
    reloads: samples.length,
    notApplied: samples.filter((s) => s.outcome !== 'applied').length,
    applyP50Ms: median(apply),
    applyMaxMs: apply.length ? Math.max(...apply) : null,
    postP50Ms: median(post),
    postMaxMs: Math.max(...post),
    load: loadResult,
    otherLoadCores,
    profile,
    samples,
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Throughput during a reload storm, against the same gateway without reloads
// ---------------------------------------------------------------------------------------------

/** POSTs docs[0], docs[1], docs[0]… every intervalMs until stop() (a late one goes at once). */
function startStorm(gw, docs, intervalMs) {
  const result = { attempts: 0, applied: 0, other: {}, late: 0, postMs: [] }
  let stopped = false
  const loop = (async () => {
    const t0 = performance.now()
    for (let k = 0; !stopped; k++) {
      const wait = t0 + k * intervalMs - performance.now()
      if (wait > 0) await sleep(wait)
      else if (k > 0) result.late++
      if (stopped) break
      result.attempts++
      try {
        const res = await gw.reload(docs[k % 2])
        result.postMs.push(res.ms)
        const outcome = res.json?.outcome ?? `HTTP ${res.status}`
        if (outcome === 'applied') result.applied++
        else result.other[outcome] = (result.other[outcome] ?? 0) + 1
      } catch (err) {
        result.other[err.code ?? err.message] = (result.other[err.code ?? err.message] ?? 0) + 1
      }
    }
  })()
  return {
    async stop() {
      stopped = true
      await loop
      return {
        ...result,
        postP50Ms: median(result.postMs),
        postMaxMs: Math.max(0, ...result.postMs),
      }
    },
  }
}

async function checkBenchRoute(gw, marker) {
  const client = new Client(gw.url)
  try {
    const res = await client.request({
      method: 'GET',
      path: BENCH_PATH,
      headers: { 'x-drop-me': '1' },
    })
    const body = await res.body.text()
    const seen = res.headers['x-config-marker']
    if (res.statusCode !== 200 || body !== 'ok' || seen !== marker)
      throw new Error(
        `GET ${BENCH_PATH} → ${res.statusCode} ${JSON.stringify(body)} marker ${seen}`,
      )
  } finally {
    await client.close()
  }
}

/**
 * Before the measured cells: 1 s of the bench load while `POST /reload` re-sends the running
 * document every 100 ms (each answered `unchanged`: no snapshot is built). The first admin POST a
 * process serves makes V8 deoptimise node:http's parser and writer, which had only seen the
 * load's bodiless GETs, and re-optimise them for both kinds of request; a real gateway gets
 * there with its first POST or metrics scrape. Done here, that one-time step (~9 % of
 * throughput for a few seconds, measured with --trace-deopt) lands in neither cell, so the ratio
 * is the cost of the reloads themselves.
 */
async function primeJit(ctx, gw, runningDoc, opts) {
  const load = runLoad({
    url: `${gw.url}${BENCH_PATH}`,
    connections: opts.connections,
    headers: EXTRA_HEADERS,
    core: ctx.pin.load,
    tmpDir: ctx.tmpDir,
    durationS: 1,
  })
  const noops = startStorm(gw, [runningDoc, runningDoc], opts.stormIntervalMs)
  await load
  const result = await noops.stop()
  if (result.applied > 0) throw new Error('priming reloads were applied: the document differs')
}

async function measureStormCell(ctx, gw, { round, mode, docs, opts }) {
  const loadOpts = {
    url: `${gw.url}${BENCH_PATH}`,
    connections: opts.connections,
    headers: EXTRA_HEADERS,
    core: ctx.pin.load,
    tmpDir: ctx.tmpDir,
  }
  if (opts.warmupS > 0) await runLoad({ ...loadOpts, durationS: opts.warmupS })
  const conns0 = await ctx.origin.acceptedConnections()
  const cpu0 = readTreeCpuTicks(gw.pid)
  const other = startOtherLoadMeter([gw.pid, ctx.origin.pid])
  const storm = mode === 'storm' ? startStorm(gw, docs, opts.stormIntervalMs) : null
  const fromUs = Number(process.hrtime.bigint() / 1000n)
  const r = await runLoad({ ...loadOpts, durationS: opts.durationS })
  const windowUs = [fromUs, Number(process.hrtime.bigint() / 1000n)]
  const reloads = storm ? await storm.stop() : null
  const otherLoadCores = other()
  const cpu1 = readTreeCpuTicks(gw.pid)
  const conns1 = await ctx.origin.acceptedConnections()
  if (r.failed) return { round, mode, failed: r.failed, loadText: r.text }
  return {
    round,
    mode,
    rps: r.rps,
    requests: r.requests,
    latencyUs: r.latencyUs,
    errors: r.errors,
    cpuUsPerReq: cpu1 === null ? null : ((cpu1 - cpu0) * 1e6) / clockTicks() / r.requests,
    // The second stub_status request's own connection is counted too: hence the - 1.
    originConns: conns0 === null || conns1 === null ? null : conns1 - conns0 - 1,
    otherLoadCores,
    reloads,
    windowUs,
    load: r.args,
  }
}

/**
 * measureStormCell(), again (at most opts.retries times) while other processes used more than
 * opts.maxOtherLoad cores; the least disturbed run is kept (bench/run.js does the same).
 */
async function measureStormCellQuietly(ctx, gw, args) {
  const { opts } = args
  let best
  for (let attempt = 1; attempt <= opts.retries + 1; attempt++) {
    const s = { ...(await measureStormCell(ctx, gw, args)), attempts: attempt }
    if (s.failed) return s
    if (!best || s.otherLoadCores < best.otherLoadCores) best = s
    if (s.otherLoadCores <= opts.maxOtherLoad || attempt > opts.retries) break
    log(`storm: ${args.mode}: other processes used ${s.otherLoadCores.toFixed(2)} cores, again`)
  }
  return best
}

async function phaseStorm(ctx, opts) {
  const samples = []
  let profile = null
  for (let round = 1; round <= opts.rounds; round++) {
    const docFor = (ports, marker, variant) =>
      reloadDoc({
        ...ports,
        originPort: ctx.origin.port,
        marker,
        variant,
        routes: opts.smallRoutes,
      })
    // With --cpu-prof, round 1's gateway is profiled (its steady and its storm run).
    const profDir = path.join(ctx.tmpDir, 'cpu-prof-storm')
    const gw = await startReloadGateway(ctx, {
      name: `storm-${round}`,
      makeDoc: (ports) => docFor(ports, 'storm-0', 0),
      nodeArgs: opts.cpuProf && round === 1 ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
    })
    try {
      await checkBenchRoute(gw, 'storm-0')
      const ports = { port: gw.port, adminPort: gw.adminPort }
      await primeJit(ctx, gw, docText(docFor(ports, 'storm-0', 0)), opts)
      const docs = [docText(docFor(ports, 'storm-a', 0)), docText(docFor(ports, 'storm-b', 1))]
      for (const mode of round % 2 ? ['steady', 'storm'] : ['storm', 'steady']) {
        const s = await measureStormCellQuietly(ctx, gw, { round, mode, docs, opts })
        samples.push(s)
        log(`storm: round ${round}/${opts.rounds} ${mode}: ${describeCell(s)}`)
      }
    } finally {
      await gw.stop()
    }
    if (opts.cpuProf && round === 1) {
      const cells = samples.filter((c) => c.round === 1 && !c.failed)
      profile = Object.fromEntries(
        cells.map((c) => [c.mode, readProfile(profDir, `storm ${c.mode}`, c.windowUs)]),
      )
    }
  }
  const ok = (mode) => samples.filter((s) => s.mode === mode && !s.failed)
  const steady = ok('steady')
  const storm = ok('storm')
  const ratios = storm
    .map((s) => [s, steady.find((t) => t.round === s.round)])
    .filter(([, t]) => t)
    .map(([s, t]) => s.rps / t.rps)
  const row = (list) => ({
    rps: median(list.map((s) => s.rps)),
    p50Ms: median(list.map((s) => s.latencyUs.p50 / 1000)),
    p99Ms: median(list.map((s) => s.latencyUs.p99 / 1000)),
    cpuUsPerReq: median(list.map((s) => s.cpuUsPerReq)),
    originConns: list.reduce((n, s) => n + (s.originConns ?? 0), 0),
    errors: list.reduce((n, s) => n + errorCount(s.errors), 0),
    otherLoadCores: median(list.map((s) => s.otherLoadCores)),
  })
  return {
    steady: row(steady),
    storm: {
      ...row(storm),
      reloadsApplied: storm.reduce((n, s) => n + s.reloads.applied, 0),
      reloadsOther: storm.reduce(
        (n, s) => n + Object.values(s.reloads.other).reduce((a, b) => a + b, 0),
        0,
      ),
      reloadsLate: storm.reduce((n, s) => n + s.reloads.late, 0),
      postP50Ms: median(storm.map((s) => s.reloads.postP50Ms)),
    },
    ratio: median(ratios),
    ratios,
    failed: samples.filter((s) => s.failed).map((s) => `round ${s.round} ${s.mode}: ${s.failed}`),
    profile,
    samples,
  }
}

function describeCell(s) {
  if (s.failed) return `FAILED ${s.failed}`
  const errs = errorCount(s.errors)
  const reloads = s.reloads ? `, ${s.reloads.applied} reloads applied (${s.reloads.late} late)` : ''
  return (
    `${Math.round(s.rps)} req/s, p99 ${(s.latencyUs.p99 / 1000).toFixed(2)} ms, ` +
    `${s.cpuUsPerReq?.toFixed(1)} µs CPU/req${reloads}, other load ${s.otherLoadCores.toFixed(2)}` +
    (errs ? `, ${errs} ERRORS ${JSON.stringify(s.errors)}` : '')
  )
}

const ratioOf = (a, b) => (a && b ? a / b : null)

// ---------------------------------------------------------------------------------------------
// 4. Resident memory over 1,000 reloads under a light constant load
// ---------------------------------------------------------------------------------------------

/**
 * After a settle, the median of 5 VmRSS readings over ~1 s, the V8 heap in use (garbage
 * included) and the live heap after the last full GC so far (with how many ms ago it ran).
 * The settle (2 s) is longer than the quiet time after which hitless collects what the reloads
 * left behind (1 s, src/lifecycle/idle-gc.ts): the sample is the settled state, not the moment
 * of that collection (with 0.5 s, as before, it fell in the middle of the readings).
 */
const SETTLE_MS = 2000

async function memorySample(gw, reloads) {
  await sleep(SETTLE_MS)
  const rss = []
  for (let i = 0; i < 5; i++) {
    rss.push(gw.rssBytes())
    await sleep(200)
  }
  const gc = gw.fullGcs.at(-1)
  const heap = await gw.heapMetrics()
  return {
    reloads,
    rssBytes: median(rss),
    rssSamples: rss,
    heapUsedBytes: heap.used,
    heapTotalBytes: heap.total,
    externalBytes: heap.external,
    liveAfterFullGcBytes: gc ? gc.afterMiB * 2 ** 20 : null,
    fullGcAgoMs: gc ? performance.now() - gc.at : null,
    fullGcs: gw.fullGcs.length,
  }
}

async function phaseRss(ctx, opts) {
  const docFor = (ports, n) =>
    reloadDoc({
      ...ports,
      originPort: ctx.origin.port,
      marker: `rss-${n}`,
      variant: n % 2,
      routes: opts.smallRoutes,
    })
  // --trace-gc: the live heap after each full GC, read from stdout (see reload-gateway.js).
  const gw = await startReloadGateway(ctx, {
    name: 'rss',
    makeDoc: (ports) => docFor(ports, 0),
    logs: true,
    nodeArgs: ['--trace-gc'],
  })
  const ports = { port: gw.port, adminPort: gw.adminPort }
  const paths = [BENCH_PATH, MARKER_PATH, ...loadPaths(opts.smallRoutes, 2)]
  const load = startLoad({ url: gw.url, paths, rate: opts.loadRate })
  const other = startOtherLoadMeter([gw.pid, ctx.origin.pid])
  const first = Math.min(100, opts.rssReloads)
  const checkpoints = new Set([first, 250, 500, 750, opts.rssReloads])
  const memory = [await memorySample(gw, 0)]
  const outcomes = {}
  const postMs = []
  const timeline = []
  let loadResult
  let otherLoadCores
  const t0 = performance.now()
  try {
    for (let n = 1; n <= opts.rssReloads; n++) {
      // Every document differs from the previous (its marker), so each reload is a real apply
      // and the 20-version history is filled and recycled; the route table alternates A/B.
      const res = await gw.reload(docText(docFor(ports, n)))
      postMs.push(res.ms)
      timeline.push([Math.round(res.sentAt), Math.round(res.ms)])
      const outcome = res.json?.outcome ?? `HTTP ${res.status}`
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
      if (checkpoints.has(n) && n <= opts.rssReloads) {
        const m = await memorySample(gw, n)
        memory.push(m)
        log(
          `rss: after ${n} reloads: RSS ${mib(m.rssBytes)} MiB, heap ${mib(m.heapUsedBytes)} ` +
            `MiB, live after the last full GC ${mib(m.liveAfterFullGcBytes)} MiB`,
        )
      }
    }
  } finally {
    loadResult = await load.stop()
    otherLoadCores = other()
    await gw.stop()
  }
  const at = (n) => memory.find((m) => m.reloads === n)
  const base = at(first)
  const last = at(opts.rssReloads)
  return {
    reloads: opts.rssReloads,
    first,
    outcomes,
    seconds: (performance.now() - t0) / 1000,
    postP50Ms: median(postMs),
    memory,
    ratio: base && last ? last.rssBytes / base.rssBytes : null,
    heapRatio: ratioOf(last?.heapUsedBytes, base?.heapUsedBytes),
    heapTotalRatio: ratioOf(last?.heapTotalBytes, base?.heapTotalBytes),
    liveRatio: ratioOf(last?.liveAfterFullGcBytes, base?.liveAfterFullGcBytes),
    // RSS at the end against the checkpoint half way: is it still growing?
    rssSecondHalfRatio: ratioOf(last?.rssBytes, at(Math.min(500, opts.rssReloads))?.rssBytes),
    load: loadResult,
    otherLoadCores,
    // [sent at (performance.now() ms), POST ms] of every reload, to line up with load.slow.
    timeline,
  }
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const ms = (v, digits = 1) => (v === null || v === undefined ? '—' : v.toFixed(digits))
const mib = (bytes) => (bytes === null || bytes === undefined ? '—' : (bytes / 2 ** 20).toFixed(1))
const verdict = (ok) => (ok === null ? 'not measured' : ok ? 'met' : '**missed**')
const loadText = (l) =>
  `${l.sent} requests, ${l.failed + l.unanswered} failed` +
  (l.failed + l.unanswered ? ` (${JSON.stringify(l.failures)}, ${l.unanswered} unanswered)` : '') +
  `, latency p50 ${ms(l.p50Ms, 2)} / p99 ${ms(l.p99Ms)} / max ${ms(l.maxMs)} ms`

function summaryTable(r) {
  const rows = []
  if (r.visible) {
    const { admin, file } = r.visible
    rows.push([
      'admin `POST /reload` → first response on the new version',
      `p50 ${ms(admin.p50Ms)} ms, p99 ${ms(admin.p99Ms)} ms`,
      `p99 < ${TARGETS.adminP99Ms} ms`,
      verdict(admin.seen === admin.reloads && admin.p99Ms < TARGETS.adminP99Ms),
    ])
    rows.push([
      'file write → first response on the new version (100 ms debounce included)',
      `p50 ${ms(file.p50Ms)} ms, p99 ${ms(file.p99Ms)} ms`,
      `p99 < ${TARGETS.fileP99Ms} ms`,
      verdict(file.seen === file.reloads && file.p99Ms < TARGETS.fileP99Ms),
    ])
  }
  if (r.big) {
    const b = r.big
    const failed = b.load.failed + b.load.unanswered
    rows.push([
      `${b.routes.toLocaleString('en')}-route rebuild and swap (\`apply_ms\`), failed requests`,
      `p50 ${ms(b.applyP50Ms, 0)} ms, max ${ms(b.applyMaxMs, 0)} ms; ${failed} failed of ${b.load.sent}`,
      `< ${TARGETS.bigMs} ms, 0 failed`,
      verdict(b.applyMaxMs < TARGETS.bigMs && failed === 0 && b.notApplied === 0),
    ])
  }
  if (r.storm) {
    const s = r.storm
    rows.push([
      `throughput during a reload storm (one every ${r.settings.stormIntervalMs} ms) ÷ steady`,
      `${ms(s.ratio, 2)}× (${Math.round(s.storm.rps)} vs ${Math.round(s.steady.rps)} req/s); ` +
        `${s.storm.errors + s.steady.errors} errors`,
      `≥ ${TARGETS.stormRatio}×, 0 errors`,
      verdict(
        s.ratio >= TARGETS.stormRatio &&
          s.storm.errors + s.steady.errors === 0 &&
          s.failed.length === 0,
      ),
    ])
  }
  if (r.rss) {
    const m = r.rss
    const base = m.memory.find((x) => x.reloads === m.first)
    const last = m.memory.find((x) => x.reloads === m.reloads)
    rows.push([
      `RSS after ${m.reloads.toLocaleString('en')} reloads ÷ after ${m.first}`,
      `${ms(m.ratio, 3)}× (${mib(last?.rssBytes)} vs ${mib(base?.rssBytes)} MiB)`,
      `≤ ${TARGETS.rssRatio}×`,
      verdict(m.ratio !== null && m.ratio <= TARGETS.rssRatio),
    ])
  }
  return alignedTable(
    [
      ['measurement', 'left'],
      ['result', 'left'],
      ['target', 'left'],
      ['', 'left'],
    ],
    rows,
  )
}

function visibleSection(v, settings) {
  const row = (s, label) => [
    label,
    String(s.reloads),
    ms(s.p50Ms),
    ms(s.p99Ms),
    ms(s.maxMs),
    ms(s.applyP50Ms, 2),
    s.how === 'admin' ? ms(s.postP50Ms) : '—',
    String(s.stale),
    String(s.errors + s.notApplied + s.wrongSource + (s.reloads - s.seen)),
  ]
  const table = alignedTable(
    [
      ['trigger', 'left'],
      ['reloads', 'right'],
      ['p50 ms', 'right'],
      ['p99 ms', 'right'],
      ['max ms', 'right'],
      ['apply_ms p50', 'right'],
      ['POST p50 ms', 'right'],
      ['stale answers', 'right'],
      ['problems', 'right'],
    ],
    [row(v.admin, 'admin `POST /reload`'), row(v.file, 'file write (watcher)')],
  )
  return [
    '### Trigger → first response served by the new version',
    '',
    `Gateway on a ${settings.smallRoutes + 2}-route document whose \`marker\` route ` +
      `(\`GET ${MARKER_PATH}\`, answered by hitless) returns a marker that changes with every ` +
      'reload; one keep-alive client polls it back to back (next request when the previous ' +
      'answer arrived, ~0.1–0.3 ms apart) and the time is taken when the first answer with ' +
      'the new marker arrives. The two triggers alternate, 100 ms debounce of the CLI as shipped.',
    '',
    '- admin: the file is rewritten (untimed), then the clock starts and `POST /reload` re-reads ' +
      'it. The watcher then sees the same file ~100 ms later and finds it unchanged; the next ' +
      'reload waits for that.',
    '- file: the clock starts, the new file is written (temp file + rename, as editors save); the ' +
      'watcher applies it after its **100 ms debounce, included** in the time.',
    '- `apply_ms` is what the gateway logs on `config applied`. For the admin trigger it covers ' +
      'read → parse → validate → build → swap; for the watcher it starts after the parse (the ' +
      'watcher parses before handing over).',
    '- stale answers: old-marker answers after the first new one (must be 0). problems: ' +
      'non-200 polls, reloads not applied, applied by the other trigger, or never seen.',
    '',
    table,
  ]
}

function bigSection(b) {
  const rows = b.samples.map((s, i) => [
    String(i + 1),
    s.outcome,
    ms(s.applyMs, 0),
    ms(s.postMs, 0),
  ])
  const lines = [
    `### ${b.routes.toLocaleString('en')}-route build and swap`,
    '',
    `Two documents of ${b.routes.toLocaleString('en')} generated routes (45 % exact, 45 % ` +
      'prefix, 10 % regex; every 10th and every regex route with a `strip_prefix`, every 7th ' +
      'with a method constraint, every 13th with a response header) over 4 upstreams plus the ' +
      '`origin` one (all nginx), differing in the marker and in which upstream each route uses; ' +
      `${(b.documentBytes / 1024).toFixed(0)} KiB of JSON each. They alternate as the body of ` +
      '`POST /reload` (no file, so the watcher does not parse it a second time); 300 ms between ' +
      'reloads. `apply_ms` (gateway log) covers parse → validate → build → swap; `POST ms` is the ' +
      'round trip seen by the client (upload of the document included).',
    '',
    `- The first apply, at start: ${ms(b.startApplyMs, 0)} ms.`,
    `- Light constant load during the reloads (${b.load.seconds.toFixed(0)} s, exact, prefix ` +
      `and regex routes among the ${b.routes.toLocaleString('en')}, the \`marker\` and the ` +
      `\`bench\` route, 4 keep-alive connections): ${loadText(b.load)}.`,
    `- apply_ms p50 ${ms(b.applyP50Ms, 0)} ms, max ${ms(b.applyMaxMs, 0)} ms; POST p50 ` +
      `${ms(b.postP50Ms, 0)} ms, max ${ms(b.postMaxMs, 0)} ms; other load ` +
      `${b.otherLoadCores.toFixed(2)} cores.`,
    '',
    alignedTable(
      [
        ['reload', 'right'],
        ['outcome', 'left'],
        ['apply_ms', 'right'],
        ['POST ms', 'right'],
      ],
      rows,
    ),
  ]
  if (b.profile) {
    const p = b.profile
    const pct = (v) => `${((100 * v) / Math.max(1, p.busyMs)).toFixed(0)} %`
    lines.push(
      '',
      `CPU profile of the gateway over this phase (\`--cpu-prof\`: start with its first build, ` +
        `${b.reloads} rebuilds, the load): ${profileShares(p)}. Inclusive time of the top ` +
        'functions:',
      '',
      alignedTable(
        [
          ['function', 'left'],
          ['ms', 'right'],
          ['share', 'right'],
        ],
        p.total.slice(0, 10).map(([label, v]) => [`\`${label}\``, String(v), pct(v)]),
      ),
      '',
      `Per load (${b.reloads + 1}: the start and the reloads), from the profile: ` +
        `${stageBreakdown(p, b.reloads + 1)}; garbage collection ${ms(p.gcMs / (b.reloads + 1), 0)} ms ` +
        '(not attributed to a stage).',
      '',
      `Self time by file or package: ${p.files
        .slice(0, 6)
        .map(([label, v]) => `\`${label}\` ${pct(v)}`)
        .join(', ')}.`,
    )
  }
  return lines
}

/** Reloads applied during round 1's measured storm run (the profiled one). */
const stormReloads = (s) =>
  s.samples.find((c) => c.round === 1 && c.mode === 'storm' && !c.failed)?.reloads.applied ?? 1

function stormSection(s, settings) {
  const rows = s.samples
    .filter((c) => !c.failed)
    .map((c) => [
      String(c.round),
      c.mode,
      String(Math.round(c.rps)),
      ms(c.latencyUs.p50 / 1000, 2),
      ms(c.latencyUs.p99 / 1000, 2),
      ms(c.cpuUsPerReq),
      c.reloads ? `${c.reloads.applied} (${c.reloads.late} late)` : '—',
      String(c.originConns ?? '—'),
      `${c.otherLoadCores.toFixed(2)}${c.attempts > 1 ? ` (${c.attempts} tries)` : ''}`,
      String(errorCount(c.errors)),
    ])
  return [
    '### Throughput during a reload storm',
    '',
    `h2load \`--h1 -t1 -c${settings.connections}\` for ${settings.durationS} s on \`GET ${BENCH_PATH}\` ` +
      '(the macro benchmark’s `bench` route: prefix match, rewrite, four header rules, access log ' +
      'on with stdout to /dev/null) through hitless to nginx, after a ' +
      `${settings.warmupS} s unrecorded warm-up; \`storm\`: meanwhile one \`POST /reload\` every ` +
      `${settings.stormIntervalMs} ms alternating two valid ${settings.smallRoutes + 2}-route ` +
      'documents (each a real apply; a reload that is still running when the next is due makes ' +
      'the next one late, sent as soon as it returns). Steady and storm alternate within each ' +
      `round (order swapped every round), one gateway per round; ${settings.rounds} rounds. ` +
      'Each gateway is primed first: 1 s of the load while `POST /reload` re-sends its running ' +
      'document every 100 ms (answered `unchanged`, nothing built), so that the one-time JIT ' +
      'step of its first admin POST (V8 deoptimises node:http’s parser and writer, tuned to ' +
      'bodiless GETs, and re-optimises them; ~9 % of throughput for a few seconds, seen with ' +
      '`--trace-deopt`) lands in neither cell and the ratio is the cost of the reloads. ' +
      'Ratio = storm ÷ steady req/s paired per round, median. A run during which other ' +
      `processes used more than ${settings.maxOtherLoad} cores is measured again, up to ` +
      `${settings.retries} times, and the least disturbed try kept.`,
    '',
    alignedTable(
      [
        ['round', 'right'],
        ['mode', 'left'],
        ['req/s', 'right'],
        ['p50 ms', 'right'],
        ['p99 ms', 'right'],
        ['CPU µs/req', 'right'],
        ['reloads applied', 'right'],
        ['new origin conns', 'right'],
        ['other load', 'right'],
        ['errors', 'right'],
      ],
      rows,
    ),
    '',
    `- Median: steady ${Math.round(s.steady.rps)} req/s, storm ${Math.round(s.storm.rps)} req/s, ` +
      `ratio ${ms(s.ratio, 2)}× (per round: ${s.ratios.map((x) => `${x.toFixed(2)}×`).join(', ')}); ` +
      `reloads applied during the storms: ${s.storm.reloadsApplied}, not applied: ` +
      `${s.storm.reloadsOther}; POST /reload p50 ${ms(s.storm.postP50Ms)} ms under load.`,
    '- errors = h2load failed, errored or timed-out requests + 4xx/5xx answers; new origin conns = connections nginx ' +
      'accepted during the run (unchanged upstreams keep their pools across reloads).',
    ...(s.failed.length ? [`- **Failed runs**: ${s.failed.join('; ')}`] : []),
    ...(s.profile?.steady && s.profile?.storm
      ? [
          "- CPU profile of round 1's gateway (`--cpu-prof`), samples of each measured run only: " +
            `steady: ${profileShares(s.profile.steady)}; storm: ${profileShares(s.profile.storm)}. ` +
            `Per reload of the storm run (${stormReloads(s)}): ` +
            `${stageBreakdown(s.profile.storm, stormReloads(s))}.`,
        ]
      : []),
  ]
}

function rssSection(m) {
  const rows = m.memory.map((x) => [
    String(x.reloads),
    mib(x.rssBytes),
    mib(x.heapUsedBytes),
    mib(x.heapTotalBytes),
    mib(x.externalBytes),
    x.liveAfterFullGcBytes === null
      ? '—'
      : `${mib(x.liveAfterFullGcBytes)} (${(x.fullGcAgoMs / 1000).toFixed(1)} s before)`,
    x.rssSamples.map((v) => mib(v)).join(' '),
  ])
  return [
    '### Memory over 1,000 reloads',
    '',
    `${m.reloads.toLocaleString('en')} reloads back to back (\`POST /reload\` with the document ` +
      `as body, each sent when the previous one returned: ${(m.reloads / m.seconds).toFixed(0)} ` +
      `per second including the memory samples, POST p50 ${ms(m.postP50Ms)} ms), every document ` +
      'different from the previous one (the marker) and the route table alternating between ' +
      'two variants, so every reload is a real apply and the 20-version history is recycled. ' +
      `Outcomes: ${JSON.stringify(m.outcomes)}. At each checkpoint the reloads pause, the ` +
      'load goes on for 2 s (longer than the 1 s of quiet after which hitless collects what the ' +
      'reloads left behind), then VmRSS (`/proc/PID/status`) is read 5 times over 1 s and the ' +
      'median kept. Heap used, heap committed and external memory are prom-client’s ' +
      '`nodejs_heap_size_used_bytes`, `nodejs_heap_size_total_bytes` and ' +
      '`nodejs_external_memory_bytes` (admin `/metrics`). GC cannot be forced from outside: heap ' +
      'used includes garbage not yet collected, so the gateway runs with ' +
      '`--trace-gc` and the heap left by its last full (mark-compact) GC before the sample is ' +
      'reported too: that one is live data only.',
    '',
    `- Light constant load throughout: ${loadText(m.load)}; other load ` +
      `${m.otherLoadCores.toFixed(2)} cores.`,
    `- After ${m.reloads} ÷ after ${m.first}: RSS ${ms(m.ratio, 3)}×, heap used ` +
      `${ms(m.heapRatio, 3)}×, heap committed ${ms(m.heapTotalRatio, 3)}×, live heap after full ` +
      `GC ${ms(m.liveRatio, 3)}×. RSS after ` +
      `${m.reloads} ÷ after ${Math.min(500, m.reloads)}: ${ms(m.rssSecondHalfRatio, 3)}×.`,
    '',
    alignedTable(
      [
        ['after reloads', 'right'],
        ['RSS MiB (median)', 'right'],
        ['heap used MiB', 'right'],
        ['heap committed MiB', 'right'],
        ['external MiB', 'right'],
        ['live heap after last full GC, MiB', 'right'],
        ['RSS samples MiB', 'left'],
      ],
      rows,
    ),
  ]
}

function renderReport(r) {
  const { machine, command, hitless, settings, pin } = r
  const build = hitless
    ? `\`${hitless.cli}\` built ${hitless.builtAt}, repository at ${hitless.commit}` +
      (hitless.srcDirty ? ' with uncommitted changes under src/' : '')
    : 'none'
  const pinText = pin.enabled
    ? 'gateway and nginx pinned to core 1; h2load and the harness (poller, load, reload trigger) ' +
      'to core 0 (`taskset`)'
    : `**unpinned** (nproc = ${pin.cores} < 2)`
  const others = ['visible', 'big', 'storm', 'rss']
    .filter((p) => r[p])
    .map((p) => {
      const v =
        p === 'storm' ? median(r.storm.samples.map((s) => s.otherLoadCores)) : r[p].otherLoadCores
      return `${p} ${v.toFixed(2)}`
    })
  return [
    ...sectionHead(HEADING, machine, command),
    `- hitless build: ${build}; the CLI (\`hitless run -c FILE --log-level info\`, file watcher ` +
      'on, 100 ms debounce) in front of the macro benchmark’s nginx origin, admin API on loopback.',
    `- Layout: ${pinText}.`,
    `- Other load (cores used by processes outside the benchmark, per phase): ${others.join(', ')}. ` +
      'The machine is shared: above ~0.25 the absolute numbers are suspect; ratios within a phase ' +
      'less so.',
    '',
    summaryTable(r),
    '',
    ...(r.visible ? [...visibleSection(r.visible, settings), ''] : []),
    ...(r.big ? [...bigSection(r.big), ''] : []),
    ...(r.storm ? [...stormSection(r.storm, settings), ''] : []),
    ...(r.rss ? [...rssSection(r.rss), ''] : []),
  ].join('\n')
}

// ---------------------------------------------------------------------------------------------

async function main(opts, tmpDir) {
  ensureTools(log)
  ensureDeps(BENCH_DIR, log)
  const machine = machineInfo()
  const command = commandLine('bench:reload')
  const pin = pinning()
  if (pin.enabled) {
    // The harness (poller, light load, reload trigger) shares core 0 with h2load: left unpinned it
    // would run on the gateway's core during a storm and not during steady state, and the ratio
    // would measure the harness rather than the reloads.
    execFileSync('taskset', ['-a', '-cp', pin.load, String(process.pid)], { stdio: 'ignore' })
  }
  const ctxBase = { benchDir: BENCH_DIR, repoDir: REPO_DIR, tmpDir, core: pin.server, pin }
  if (!fs.existsSync(hitlessMain(ctxBase))) {
    throw new Error(
      `${path.relative(REPO_DIR, hitlessMain(ctxBase))} is missing: run \`npm run build\``,
    )
  }
  const origin = await startNginx(tmpDir, pin.server)
  log(`nginx origin on ${origin.url} (pid ${origin.pid})`)
  const ctx = { ...ctxBase, origin }
  const r = { machine, command, pin, settings: opts, hitless: hitlessBuild(ctx) }
  try {
    if (opts.phases.includes('visible')) {
      log(`visible: ${opts.reloads} reloads per trigger`)
      r.visible = await phaseVisible(ctx, opts)
      for (const s of [r.visible.admin, r.visible.file]) {
        log(`visible ${s.how}: p50 ${ms(s.p50Ms)} ms, p99 ${ms(s.p99Ms)} ms, max ${ms(s.maxMs)} ms`)
      }
    }
    if (opts.phases.includes('big')) {
      log(`big: ${opts.bigReloads} reloads of ${opts.routes}-route documents`)
      r.big = await phaseBig(ctx, opts)
    }
    if (opts.phases.includes('storm')) r.storm = await phaseStorm(ctx, opts)
    if (opts.phases.includes('rss')) {
      log(`rss: ${opts.rssReloads} reloads`)
      r.rss = await phaseRss(ctx, opts)
    }
  } finally {
    await origin.stop()
  }
  const report = renderReport(r)
  process.stdout.write(`${report}\n`)
  const resultsDir = path.join(BENCH_DIR, 'results')
  fs.mkdirSync(resultsDir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const jsonFile = path.join(resultsDir, `hot-reload-${stamp}.json`)
  fs.writeFileSync(jsonFile, `${JSON.stringify(r, null, 2)}\n`)
  log(`raw results: ${path.relative(process.cwd(), jsonFile)}`)
  if (opts.writeResultsMd) {
    const file = path.join(BENCH_DIR, 'RESULTS.md')
    await writeSection(file, report, HEADING)
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
  runWithCleanup((tmpDir) => main(opts, tmpDir), {
    keepTmp: opts.keepTmp,
    log,
    prefix: 'hitless-reload-',
  })
}
