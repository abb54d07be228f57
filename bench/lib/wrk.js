// The load generator: wrk with one thread (-t1), N keep-alive connections and --latency. The
// exact numbers come from wrk/report.lua's done() line; the text report is kept for the raw JSON.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { run } from './procs.js'

/** e.g. "wrk 4.1.0 [epoll]" (wrk -v prints its banner and exits 1). */
export function wrkVersion() {
  const { stdout, stderr } = spawnSync('wrk', ['-v'], { encoding: 'utf8' })
  return `${stdout}${stderr}`
    .split('\n')[0]
    .replace(/\s*Copyright.*$/, '')
    .trim()
}

/**
 * Runs wrk once against url and resolves to its parsed result:
 * { requests, durationUs, rps, bytes, errors: {connect, read, write, status, timeout},
 *   latencyUs: {p50, p90, p99, max, mean, stdev}, text } or { failed: message, text }.
 */
export async function runWrk({ url, connections, durationS, script, headers = [], core, wrkDir }) {
  const args = ['-t1', `-c${connections}`, `-d${durationS}s`, '--latency']
  for (const h of headers) args.push('-H', h)
  args.push('-s', path.join(wrkDir, script ?? 'report.lua'), url)
  const { code, signal, out, err } = await run('wrk', args, { core })
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '))
  const text = out.replace(/^BENCH_JSON .*\n?/m, '').trimEnd()
  if (!line) {
    return { failed: `wrk exited (code ${code}, signal ${signal}): ${err.trim()}`, text }
  }
  const r = JSON.parse(line.slice('BENCH_JSON '.length))
  return {
    requests: r.requests,
    durationUs: r.duration_us,
    rps: r.requests / (r.duration_us / 1e6),
    bytes: r.bytes,
    errors: r.errors,
    latencyUs: r.latency_us,
    args: ['wrk', ...args].join(' '),
    text,
  }
}

/** Total of every kind of wrk error (socket errors plus non-2xx/3xx responses). */
export function errorCount(errors) {
  return errors.connect + errors.read + errors.write + errors.timeout + errors.status
}
