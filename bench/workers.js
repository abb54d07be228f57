// Multi-worker benchmark (issue 4): throughput of `hitless run --workers 2` against one worker
// and against the single-process mode, on this 2-core machine, with the same config as the
// macro benchmark (bench/configs/hitless.yaml: rewrite, four header rules, access log at info).
//
//   node bench/workers.js [--rounds 3] [--duration 5] [--connections 64] [--no-results-md]
//
// Nothing is pinned: the workers need both cores, so h2load (one thread), nginx and the gateway
// processes all share them, as they would on a small host. The figures are therefore ratios
// between the modes measured in the same run, interleaved per round, not capacities.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startHitlessCli } from './lib/candidates.js'
import { bodyFile, errorCount, runLoad } from './lib/load.js'
import { startNginx } from './lib/nginx.js'
import { readTreeCpuTicks, clockTicks } from './lib/proc-cpu.js'
import { freePort, runWithCleanup, stop } from './lib/procs.js'
import { commandLine, machineInfo, sectionHead, publishSection } from './lib/results-md.js'
import { EXTRA_HEADERS } from './lib/scenarios.js'

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
const REPO_DIR = path.dirname(BENCH_DIR)
const HEADING = '## Workers (issue 4)'
const log = (msg) => process.stderr.write(`[workers] ${msg}\n`)

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    'no-results-md': { type: 'boolean', default: false },
  },
})
const ROUNDS = Number(values.rounds)
const DURATION = Number(values.duration)
const CONNECTIONS = Number(values.connections)
const MODES = [
  { name: 'single process', args: [] },
  { name: '--workers 1', args: ['--workers', '1'] },
  { name: '--workers 2', args: ['--workers', '2'] },
]
const SCENARIOS = [
  { name: `GET /small c${CONNECTIONS}`, path: '/small' },
  { name: `POST /sink 16 KiB c${CONNECTIONS}`, path: '/sink', bodyBytes: 16 * 1024 },
]

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function main(tmpDir) {
  if (!fs.existsSync(path.join(REPO_DIR, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/cli/main.js is missing: run `npm run build` first')
  }
  const origin = await startNginx(tmpDir, null)
  const ctx = { benchDir: BENCH_DIR, repoDir: REPO_DIR, tmpDir, origin, core: null }
  const samples = []
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order = MODES.map((_, i) => MODES[(i + round - 1) % MODES.length])
      for (const mode of order) {
        const port = await freePort()
        const template = fs.readFileSync(path.join(BENCH_DIR, 'configs', 'hitless.yaml'), 'utf8')
        const file = path.join(tmpDir, `hitless-${round}-${mode.args.length}.yaml`)
        fs.writeFileSync(
          file,
          template
            .replace(/\$\{ORIGIN_PORT\}/g, String(origin.port))
            .replace(/\$\{HITLESS_PORT\}/g, String(port)),
        )
        const child = await startHitlessCli(ctx, { file, port, args: mode.args, name: 'hitless' })
        try {
          for (const scenario of SCENARIOS) {
            const opts = {
              url: `http://127.0.0.1:${port}/b${scenario.path}`,
              connections: CONNECTIONS,
              headers: EXTRA_HEADERS,
              body: scenario.bodyBytes ? bodyFile(tmpDir, scenario.bodyBytes) : undefined,
              core: null,
              tmpDir,
            }
            await runLoad({ ...opts, durationS: 1 })
            const cpu0 = readTreeCpuTicks(child.pid)
            const r = await runLoad({ ...opts, durationS: DURATION })
            const cpu1 = readTreeCpuTicks(child.pid)
            if (r.failed) throw new Error(`${mode.name} ${scenario.name}: ${r.failed}`)
            const cores = (cpu1 - cpu0) / clockTicks() / (r.durationUs / 1e6)
            samples.push({
              round,
              mode: mode.name,
              scenario: scenario.name,
              rps: r.rps,
              p99: r.latencyUs.p99,
              cores,
              errors: errorCount(r.errors),
            })
            log(
              `round ${round} ${mode.name} ${scenario.name}: ${Math.round(r.rps)} req/s, p99 ${(r.latencyUs.p99 / 1000).toFixed(2)} ms, gateway ${cores.toFixed(2)} cores`,
            )
          }
        } finally {
          await stop(child)
        }
      }
    }
  } finally {
    await origin.stop()
  }
  return samples
}

runWithCleanup(
  async (tmpDir) => {
    const samples = await main(tmpDir)
    const rows = []
    for (const scenario of SCENARIOS) {
      const of = (mode) => samples.filter((s) => s.scenario === scenario.name && s.mode === mode)
      const base = of('--workers 1')
      const single = of('single process')
      for (const mode of MODES) {
        const mine = of(mode.name)
        const ratio = (ref) =>
          median(mine.map((s) => s.rps / (ref.find((b) => b.round === s.round)?.rps ?? NaN)))
        rows.push(
          `| ${scenario.name} | ${mode.name} | ${Math.round(median(mine.map((s) => s.rps)))} | ` +
            `${ratio(single).toFixed(2)}× | ${ratio(base).toFixed(2)}× | ` +
            `${(median(mine.map((s) => s.p99)) / 1000).toFixed(2)} | ` +
            `${median(mine.map((s) => s.cores)).toFixed(2)} | ${mine.reduce((n, s) => n + s.errors, 0)} |`,
        )
      }
    }
    const machine = machineInfo()
    const section = [
      ...sectionHead(HEADING, machine, commandLine('bench:workers'), ' (after `npm run build`)'),
      `- ${ROUNDS} interleaved round(s) × ${DURATION} s per cell after a 1 s warm-up; h2load ` +
        `\`--h1 -t1 -c${CONNECTIONS}\`, keep-alive; config \`bench/configs/hitless.yaml\` ` +
        '(rewrite, four header rules, access log at info to /dev/null). **Nothing is pinned**: ' +
        'the load generator (one thread), nginx and the gateway processes share the 2 cores, ' +
        'so a second worker competes with them; the ratios, not the req/s, are the result.',
      '- `cores` = CPU used by the gateway process tree (supervisor and workers) per second of ' +
        'the run.',
      '',
      '| scenario | mode | req/s | vs single | vs 1 worker | p99 ms | cores | errors |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
    ].join('\n')
    await publishSection(section, HEADING, { noResultsMd: values['no-results-md'], log })
  },
  { log },
)
