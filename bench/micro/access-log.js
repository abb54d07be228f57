// Micro-benchmark of the access log's cost per request: CPU µs per line (user + system, all
// threads of the process, so pino's thread-pool writes count) for one line shaped like
// hitless's access log, written to /dev/null through: a no-op destination (serialisation only),
// pino's synchronous destination, pino's asynchronous destination (sonic-boom), and hitless's
// BatchedStdout (src/log/logger.ts). Each runs in its own child process.
// Usage, from the repo root, after `npm run build`:  node bench/micro/access-log.js
import { spawnSync } from 'node:child_process'
import { openSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const LINES = 200_000
const MODES = ['noop', 'pino-sync', 'pino-async', 'batched']

async function child(mode) {
  const { pino } = await import(pathToFileURL(resolve(ROOT, 'node_modules/pino/pino.js')).href)
  const { BatchedStdout } = await import(pathToFileURL(resolve(ROOT, 'dist/log/logger.js')).href)
  const dest =
    mode === 'noop'
      ? { write() {} }
      : mode === 'pino-sync'
        ? pino.destination({ dest: 1, sync: true })
        : mode === 'pino-async'
          ? pino.destination({ dest: 1, sync: false })
          : new BatchedStdout()
  const log = pino({ base: { pid: process.pid } }, dest).child({ config_version: 'abcdef123456' })
  const fields = {
    method: 'GET',
    path: '/small',
    status: 200,
    bytes: 2,
    duration_ms: 0.512,
    route: 'bench',
    upstream: 'origin',
    target: 'http://127.0.0.1:41234',
    request_id: '0b645471-3e78-40ff-a58d-7e1592c8d6ad',
    client_ip: '127.0.0.1',
  }
  const start = process.cpuUsage()
  let i = 0
  await new Promise((done) => {
    // Batches of 100 lines per macrotask, like requests arriving over many event-loop turns.
    const batch = () => {
      for (let k = 0; k < 100 && i < LINES; k++, i++) log.info(fields, 'request')
      if (i < LINES) setImmediate(batch)
      else done()
    }
    batch()
  })
  dest.flushSync?.()
  await new Promise((r) => setTimeout(r, 200)) // let an async destination finish its writes
  const used = process.cpuUsage(start)
  process.stderr.write(JSON.stringify({ mode, us: (used.user + used.system) / LINES }) + '\n')
}

if (process.argv[2] !== undefined) {
  await child(process.argv[2])
} else {
  const devnull = openSync('/dev/null', 'w')
  const rows = []
  for (const mode of MODES) {
    const runs = []
    for (let r = 0; r < 3; r++) {
      const out = spawnSync(process.execPath, [fileURLToPath(import.meta.url), mode], {
        stdio: ['ignore', devnull, 'pipe'],
        encoding: 'utf8',
      })
      runs.push(JSON.parse(out.stderr.trim().split('\n').at(-1)).us)
    }
    runs.sort((a, b) => a - b)
    rows.push({ mode, us: runs[1] })
  }
  console.log(`| destination | CPU µs per line (median of 3 runs × ${LINES} lines) |`)
  console.log('| --- | ---: |')
  for (const { mode, us } of rows) console.log(`| ${mode} | ${us.toFixed(2)} |`)
}
