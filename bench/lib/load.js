// The load generator: h2load (nghttp2-client) speaking HTTP/1.1, one thread, N keep-alive
// connections, for a fixed duration. Throughput comes from its summary; latency percentiles come
// from its per-request log (--log-file: one line per request with its own duration), so every
// request counts once. wrk was used before and dropped: its --latency percentiles are not per
// request (against a server that delays 0.5% of requests by 20 ms, wrk -c1 reported p75 8.8 ms,
// where the true p75 is 26 µs), which made one 20 ms GC pause in a 5 s run look like a 20 ms p99.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { run } from './procs.js'

/** e.g. "h2load nghttp2/1.52.0". */
export function loadGenVersion() {
  const { stdout } = spawnSync('h2load', ['--version'], { encoding: 'utf8' })
  return (stdout ?? '').split('\n')[0].trim() || 'h2load (version unknown)'
}

/** A file of `bytes` bytes in dir, for POST bodies (h2load -d). */
export function bodyFile(dir, bytes) {
  const file = path.join(dir, `body-${bytes}.bin`)
  if (!fs.existsSync(file)) fs.writeFileSync(file, Buffer.alloc(bytes, 'x'))
  return file
}

let runs = 0

/**
 * Runs h2load once against url and resolves to its parsed result:
 * { requests, durationUs, rps, errors: {failed, errored, timeout, status},
 *   latencyUs: {p50, p90, p99, max, mean}, args, text } or { failed: message, text }.
 * body: path of a file to POST (h2load -d), or undefined for GET.
 */
export async function runLoad({ url, connections, durationS, body, headers = [], core, tmpDir }) {
  const logFile = path.join(tmpDir, `h2load-${process.pid}-${++runs}.log`)
  const args = ['--h1', '-t1', `-c${connections}`, `-D${durationS}`, `--log-file=${logFile}`]
  for (const h of headers) args.push('-H', h)
  if (body) args.push('-d', body)
  args.push(url)
  const { code, signal, out, err } = await run('h2load', args, { core })
  const text = out.trimEnd()
  try {
    const finished = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(out)
    const req =
      /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
        out,
      )
    const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out)
    if (code !== 0 || !finished || !req || !status) {
      return { failed: `h2load exited (code ${code}, signal ${signal}): ${err.trim()}`, text }
    }
    const seconds = Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1)
    const latencies = readLatencies(logFile)
    return {
      requests: Number(req[4]),
      durationUs: seconds * 1e6,
      rps: Number(finished[3]),
      errors: {
        failed: Number(req[5]),
        errored: Number(req[6]),
        timeout: Number(req[7]),
        status: Number(status[3]) + Number(status[4]),
      },
      latencyUs: percentiles(latencies),
      args: ['h2load', ...args.map((a) => (a.startsWith('--log-file=') ? '--log-file=…' : a))].join(
        ' ',
      ),
      text,
    }
  } finally {
    fs.rmSync(logFile, { force: true })
  }
}

/** The third column of h2load's log: microseconds from sending the request to its last byte. */
function readLatencies(file) {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'latin1') : ''
  const out = []
  for (const line of text.split('\n')) {
    const tab = line.lastIndexOf('\t')
    if (tab > 0) out.push(Number(line.slice(tab + 1)))
  }
  return Float64Array.from(out).sort()
}

function percentiles(sorted) {
  const at = (p) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] : NaN
  let sum = 0
  for (const v of sorted) sum += v
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
  }
}

/** Total of every kind of load-generator error (failed or timed-out requests, 4xx/5xx answers). */
export function errorCount(errors) {
  return errors.failed + errors.errored + errors.timeout + errors.status
}
