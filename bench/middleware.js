// Library middleware cost (issue 6): hitless used as a library (bench/candidates/hitless-library.js)
// with 0, 1 and 5 no-op middleware (`await next()`), measured by the macro benchmark's harness
// (bench/run.js: h2load → candidate → nginx, interleaved rounds, pinned cores) and reported as
// ratios against 0 middleware in the same round. Targets: one middleware < 3% of throughput,
// five < 10%.
//
//   npm run build && node bench/middleware.js [--rounds 5] [--duration 5] [--no-results-md]
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { median, alignedTable } from './lib/table.js'
import { commandLine, machineInfo, publishSection, sectionHead } from './lib/results-md.js'

const HEADING = '## Library middleware (issue 6)'
const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
const log = (msg) => process.stderr.write(`[bench:middleware] ${msg}\n`)

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    scenarios: { type: 'string', default: 'get-small-c64,get-small-c1,post' },
    'no-results-md': { type: 'boolean', default: false },
  },
})
const candidates = ['hitless-lib-0', 'hitless-lib-1', 'hitless-lib-5']
const started = Date.now()
const run = spawnSync(
  process.execPath,
  [
    path.join(BENCH_DIR, 'run.js'),
    '--only',
    candidates.join(','),
    '--scenarios',
    values.scenarios,
    '--rounds',
    values.rounds,
    '--duration',
    values.duration,
    '--no-results-md',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
)
if (run.status !== 0) throw new Error(`bench/run.js failed (exit ${run.status})`)
// The newest raw results, written by that run.
const dir = path.join(BENCH_DIR, 'results')
const file = fs
  .readdirSync(dir)
  .filter((f) => f.startsWith('proxy-throughput-'))
  .map((f) => path.join(dir, f))
  .filter((f) => fs.statSync(f).mtimeMs >= started)
  .sort()
  .at(-1)
if (file === undefined) throw new Error('bench/run.js wrote no results')
const { meta, samples } = JSON.parse(fs.readFileSync(file, 'utf8'))

const rows = []
for (const scenario of meta.scenarios) {
  const of = (name) =>
    samples.filter((s) => s.scenario === scenario.id && s.candidate === name && !s.failed)
  const base = new Map(of('hitless-lib-0').map((s) => [s.round, s]))
  for (const name of candidates) {
    const mine = of(name)
    const paired = mine.filter((s) => base.has(s.round))
    const ratio = (f) => median(paired.map((s) => f(s) / f(base.get(s.round))))
    const rps = ratio((s) => s.rps)
    rows.push([
      `${scenario.label} c${scenario.connections}`,
      name.replace('hitless-lib-', '') + ' middleware',
      String(Math.round(median(mine.map((s) => s.rps)))),
      `${rps.toFixed(3)}×`,
      `${((1 - rps) * 100).toFixed(1)}%`,
      `${ratio((s) => s.cpuUsPerReq).toFixed(3)}×`,
      (median(mine.map((s) => s.latencyUs.p99)) / 1000).toFixed(2),
      String(mine.reduce((n, s) => n + Object.values(s.errors).reduce((a, b) => a + b, 0), 0)),
    ])
  }
}
const table = alignedTable(
  [
    ['scenario', 'left'],
    ['library path', 'left'],
    ['req/s', 'right'],
    ['vs 0 (req/s)', 'right'],
    ['throughput cost', 'right'],
    ['vs 0 (CPU µs/req)', 'right'],
    ['p99 ms', 'right'],
    ['errors', 'right'],
  ],
  rows,
)
const machine = machineInfo()
const section = [
  ...sectionHead(HEADING, machine, commandLine('bench:middleware'), ' (after `npm run build`)'),
  `- Settings: ${values.rounds} interleaved rounds × ${values.duration} s per cell; ratios are medians of per-round pairs against 0 middleware; raw samples in \`bench/results/${path.basename(file)}\`.`,
  '- Each middleware is `async (ctx, next) => { await next() }`; with one or more, the response head (and any body that arrives meanwhile, up to 64 KiB) is held until the chain unwinds, so the cost includes that hand-over.',
  '- Targets: 1 middleware < 3% of throughput, 5 middleware < 10%.',
  '',
  table,
  '',
].join('\n')
await publishSection(section, HEADING, { noResultsMd: values['no-results-md'], log })
