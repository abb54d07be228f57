// Fleet-mode benchmark (issue 5): how long from writing a new revision of the config document to
// etcd until two gateways running `hitless run --etcd … --etcd-key …` both serve it.
//
//   node bench/fleet.js [--revisions 20] [--no-results-md]      (or: npm run bench:fleet)
//
// Starts its own etcd (Debian's etcd-server, /usr/bin/etcd or HITLESS_ETCD_BIN) on an ephemeral
// loopback port with a temporary data dir, and two gateways (dist/cli/main.js) on one key; each
// interpolates ${HITLESS_NAME} from its own environment. For each revision: put, then GET /v on
// both every 2 ms until both answer with the new body. Every process is stopped by PID.
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Etcd3 } from 'etcd3'
import { commandLine, machineInfo, sectionHead, publishSection } from './lib/results-md.js'

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
const REPO_DIR = path.dirname(BENCH_DIR)
const HEADING = '## Fleet mode on etcd (issue 5)'
const ETCD = process.env.HITLESS_ETCD_BIN ?? '/usr/bin/etcd'
const KEY = '/hitless/bench/config'

const { values } = parseArgs({
  options: {
    revisions: { type: 'string', default: '20' },
    'no-results-md': { type: 'boolean', default: false },
  },
})
const REVISIONS = Number(values.revisions)
const log = (msg) => process.stderr.write(`[fleet] ${msg}\n`)

/** Spawns `command`, resolving with the first match of `pattern` in its `stream` lines. */
function spawnUntil(command, args, { env, stream, pattern, timeoutMs = 15_000 }) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
  let output = ''
  const found = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command}: no ${pattern} in\n${output}`)),
      timeoutMs,
    )
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}:\n${output}`)))
    createInterface({ input: child[stream] }).on('line', (line) => {
      output += line + '\n'
      const m = pattern.exec(line)
      if (m !== null) {
        clearTimeout(timer)
        resolve(m)
      }
    })
  })
  return { child, found }
}

function get(url, agent) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve(body))
    })
    req.setTimeout(5000, () => req.destroy(new Error('timeout')))
    req.on('error', (err) => resolve(`error ${err.message}`))
  })
}

const doc = (body) =>
  [
    'listeners:',
    "  - { name: public, address: '127.0.0.1:0' }",
    'routes:',
    `  - { match: { path: /v }, respond: { status: 200, body: '${body} \${HITLESS_NAME}' } }`,
    '',
  ].join('\n')

function etcdVersion() {
  const version = /etcd Version: (\S+)/.exec(
    execFileSync(ETCD, ['--version'], { encoding: 'utf8' }),
  )
  return version === null ? 'etcd' : `etcd ${version[1]}`
}

const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hitless-bench-fleet-'))
  const children = []
  const agent = new http.Agent({ keepAlive: true })
  let client = null
  try {
    const etcd = spawnUntil(
      ETCD,
      [
        '--name=bench',
        `--data-dir=${path.join(dir, 'etcd')}`,
        '--listen-client-urls=http://127.0.0.1:0',
        '--advertise-client-urls=http://127.0.0.1:0',
        '--listen-peer-urls=http://127.0.0.1:0',
        '--initial-advertise-peer-urls=http://127.0.0.1:0',
        '--initial-cluster=bench=http://127.0.0.1:0',
      ],
      { stream: 'stderr', pattern: /serving insecure client requests on (127\.0\.0\.1:\d+)/ },
    )
    children.push(etcd.child)
    const etcdUrl = `http://${(await etcd.found)[1]}`
    client = new Etcd3({ hosts: etcdUrl })
    await client.put(KEY).value(doc('rev 0'))
    const urls = []
    for (const name of ['g1', 'g2']) {
      const gw = spawnUntil(
        process.execPath,
        [path.join(REPO_DIR, 'dist/cli/main.js'), 'run', '--etcd', etcdUrl, '--etcd-key', KEY],
        {
          env: { ...process.env, HITLESS_NAME: name },
          stream: 'stdout',
          pattern: /"msg":"hitless serving on ([^"]+)"/,
        },
      )
      children.push(gw.child)
      urls.push(`http://${(await gw.found)[1]}`)
    }
    const both = async (body) =>
      (await Promise.all(urls.map((u) => get(`${u}/v`, agent)))).every(
        (b, i) => b === `${body} g${i + 1}`,
      )
    const latencies = []
    for (let i = 1; i <= REVISIONS; i++) {
      const t0 = performance.now()
      await client.put(KEY).value(doc(`rev ${i}`))
      const deadline = t0 + 10_000
      while (!(await both(`rev ${i}`))) {
        if (performance.now() > deadline)
          throw new Error(`revision ${i} not served by both in 10 s`)
        await new Promise((r) => setTimeout(r, 2))
      }
      latencies.push(performance.now() - t0)
      log(`revision ${i}: served by both after ${latencies.at(-1).toFixed(1)} ms`)
    }
    return { latencies }
  } finally {
    agent.destroy()
    client?.close()
    for (const child of children.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await new Promise((resolve) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
          child.once('exit', () => resolve(clearTimeout(timer)))
        })
      }
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const { latencies } = await main()
const sorted = [...latencies].sort((a, b) => a - b)
const ms = (v) => `${v.toFixed(1)} ms`
const machine = machineInfo()
const section = [
  ...sectionHead(HEADING, machine, commandLine('bench:fleet'), ' (after `npm run build`)'),
  '',
  `Two gateways (\`hitless run --etcd … --etcd-key …\`) on one ${etcdVersion()} (one member, loopback); ${REVISIONS} revisions written one after another; time from the start of the write to both gateways answering with the new revision (polled every 2 ms). Target: within 1 s.`,
  '',
  '| revisions | p50 | p99 | max |',
  '|---:|---:|---:|---:|',
  `| ${REVISIONS} | ${ms(pct(sorted, 50))} | ${ms(pct(sorted, 99))} | ${ms(sorted.at(-1))} |`,
  '',
].join('\n')
await publishSection(section, HEADING, { noResultsMd: values['no-results-md'], log })
