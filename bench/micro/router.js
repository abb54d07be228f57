// Micro-benchmark of router lookup (ns/op) as the route table grows: 10, 100, 1,000 and 10,000
// exact routes, the same for prefix routes, and a mixed table (half exact, half prefix) plus 20
// regex routes; each probed with paths that exist and paths that do not. SPEC §3 asks that
// path-matching cost not grow with the number of exact/prefix routes: the ratio columns show it.
//
// Runs on the compiled test build, build/src/router/router.js (`npx tsc -p tsconfig.json`,
// i.e. `npm run build:test`); builds it first if it is missing. Usage, from the repo root:
//   node bench/micro/router.js
// Each case runs in a fresh worker thread (as find-my-way's runner does) so that the JIT state
// of one case does not colour the next: warm-up, then the best of 7 timed runs of 1e6 lookups
// (the best, not the median: on a shared machine the slower runs measure the neighbours).

import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const ROUTER_JS = resolve(ROOT, 'build/src/router/router.js')
const SIZES = [10, 100, 1_000, 10_000]
const KINDS = ['exact', 'prefix', 'mixed']
const PROBES = ['hit', 'miss']
const REGEX_COUNT = 20
const WARMUP_OPS = 300_000
const TIMED_OPS = 1_000_000
const RUNS = 7
// a power of two, so the request index is a mask rather than a modulo in the timed loop
const REQUEST_POOL = 1024

const ANY = { methods: null, hosts: null, headers: null }

/** Route specs for one case; data is a number so a hit is checked cheaply. */
function buildSpecs(kind, size) {
  const specs = []
  const exactCount = kind === 'exact' ? size : kind === 'prefix' ? 0 : size / 2
  const prefixCount = size - exactCount
  for (let i = 0; i < exactCount; i++) {
    specs.push({ match: { ...ANY, kind: 'path', path: `/api/s${i}/items` }, data: i })
  }
  for (let i = 0; i < prefixCount; i++) {
    specs.push({ match: { ...ANY, kind: 'prefix', prefix: `/svc/p${i}` }, data: i })
  }
  if (kind === 'mixed') {
    for (let k = 0; k < REGEX_COUNT; k++) {
      specs.push({ match: { ...ANY, kind: 'regex', regex: `^/re${k}/[0-9]+$` }, data: k })
    }
  }
  return specs
}

/**
 * Request paths spread evenly over the table: hits are paths of existing routes (the mixed case
 * cycles exact, prefix and the last regex, the costliest one); misses are near-misses that share
 * a long start with real routes (`/svc/p12x/…` walks the tree down to `p12` before failing), and
 * in the mixed case are tested against all 20 regexes before the 404.
 */
function buildPaths(kind, size, probe) {
  const exactCount = kind === 'exact' ? size : kind === 'prefix' ? 0 : size / 2
  const prefixCount = size - exactCount
  const paths = []
  for (let n = 0; n < REQUEST_POOL; n++) {
    const pickExact = kind === 'exact' || (kind === 'mixed' && n % 3 === 0)
    const pickRegex = kind === 'mixed' && n % 3 === 2
    const i = (n * 7919) % (pickExact ? exactCount : prefixCount)
    if (probe === 'hit') {
      if (pickRegex) paths.push(`/re${REGEX_COUNT - 1}/${n}`)
      else paths.push(pickExact ? `/api/s${i}/items` : `/svc/p${i}/orders/${n}`)
    } else {
      paths.push(pickExact ? `/api/s${i}/itemz` : `/svc/p${i}x/orders/${n}`)
    }
  }
  return paths
}

async function runCase({ kind, size, probe }) {
  const { createRouter } = await import(pathToFileURL(ROUTER_JS).href)
  const router = createRouter(buildSpecs(kind, size))
  const requests = buildPaths(kind, size, probe).map((path) => ({
    method: 'GET',
    host: 'example.com',
    path,
    headers: { accept: '*/*' },
  }))
  for (const req of requests) {
    if ((router.lookup(req) !== undefined) !== (probe === 'hit')) {
      throw new Error(`bench bug: ${req.path} should be a ${probe} in ${kind}/${size}`)
    }
  }
  let found = 0
  const loop = (ops) => {
    for (let n = 0; n < ops; n++) {
      if (router.lookup(requests[n & (REQUEST_POOL - 1)]) !== undefined) found++
    }
  }
  loop(WARMUP_OPS)
  const samples = []
  for (let r = 0; r < RUNS; r++) {
    const start = process.hrtime.bigint()
    loop(TIMED_OPS)
    samples.push(Number(process.hrtime.bigint() - start) / TIMED_OPS)
  }
  // `found` is returned so the lookups cannot be optimised away
  return { nsPerOp: Math.min(...samples), found }
}

function inWorker(data) {
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: data })
    worker.once('message', resolvePromise)
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`))
    })
  })
}

async function main() {
  if (!existsSync(ROUTER_JS)) {
    console.error('build/src/router/router.js missing: running npx tsc -p tsconfig.json')
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' })
    } catch {
      // tsc exits non-zero for type errors anywhere in the tree but still emits; check the file
    }
    if (!existsSync(ROUTER_JS)) throw new Error('build failed: build/src/router/router.js')
  }
  const started = process.hrtime.bigint()
  const results = new Map()
  for (const kind of KINDS) {
    for (const probe of PROBES) {
      for (const size of SIZES) {
        const { nsPerOp } = await inWorker({ kind, size, probe })
        results.set(`${kind}/${probe}/${size}`, nsPerOp)
      }
    }
  }
  const header = KINDS.flatMap((kind) => PROBES.map((probe) => `${kind} ${probe}`))
  const label = (size) => size.toLocaleString('en-US')
  const lines = [
    `| routes | ${header.join(' | ')} |`,
    `|---:|${header.map(() => '---:').join('|')}|`,
  ]
  for (const size of SIZES) {
    const cells = KINDS.flatMap((kind) =>
      PROBES.map((probe) => {
        const ns = results.get(`${kind}/${probe}/${size}`)
        const base = results.get(`${kind}/${probe}/${SIZES[0]}`)
        return `${ns.toFixed(1)} ns (${(ns / base).toFixed(2)}×)`
      }),
    )
    lines.push(`| ${label(size)} | ${cells.join(' | ')} |`)
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  console.log(lines.join('\n'))
  console.log(
    `\nns per lookup, best of ${RUNS} × ${TIMED_OPS.toLocaleString('en-US')} after warm-up; ` +
      `(×) = ratio to the ${SIZES[0]}-route case. mixed = half exact, half prefix, ` +
      `plus ${REGEX_COUNT} regex routes.\nNode ${process.version}, ${cpus()[0]?.model ?? 'cpu?'}, ` +
      `${seconds.toFixed(1)} s.`,
  )
}

if (isMainThread) {
  await main()
} else {
  parentPort.postMessage(await runCase(workerData))
}
