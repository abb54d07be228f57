// A hitless CLI child for the hot-reload benchmark (bench/reload.js): its config file (JSON, so
// that a rewrite is one write), its admin API (POST /reload, GET /metrics), the reload events of
// its log (stdout lines "config applied" / "config unchanged" / "config rejected", with
// config_version, source and apply_ms) and its resident memory.
import { EventEmitter, once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { Client } from 'undici'
import { startHitlessCli } from './candidates.js'
import { freePort, stop } from './procs.js'

// "[pid:0x…]   4123 ms: Mark-Compact 70.3 (88.1) -> 52.2 (87.6) MB, …" (V8's MB are MiB).
const MARK_COMPACT = /: Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(/

/**
 * Starts `hitless run -c <tmpDir>/<name>.json` with the document `makeDoc({ port, adminPort })`.
 * With `logs: true` stdout is read for reload events (the access log is skipped unparsed);
 * otherwise it goes to /dev/null, as in bench/run.js.
 */
export async function startReloadGateway(ctx, { name, makeDoc, logs = false, ...cliOpts }) {
  const port = await freePort()
  const adminPort = await freePort()
  const file = path.join(ctx.tmpDir, `${name}.json`)
  const ports = { port, adminPort }
  writeAtomically(file, JSON.stringify(makeDoc(ports)))
  const child = await startHitlessCli(ctx, {
    ...cliOpts,
    name,
    file,
    port,
    stdout: logs ? 'pipe' : 'ignore',
  })
  const events = []
  const fullGcs = []
  const emitter = new EventEmitter()
  if (logs) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      // With node --trace-gc, V8 writes one line per GC to stdout: the heap left after a full
      // (mark-compact) collection is the live heap, the number that shows a leak.
      const gc = MARK_COMPACT.exec(line)
      if (gc) fullGcs.push({ at: performance.now(), afterMiB: Number(gc[1]) })
      // The access log is one line per request: only reload lines are parsed.
      if (!line.includes('"msg":"config ')) return
      const e = JSON.parse(line)
      events.push({ ...e, receivedAt: performance.now() })
      emitter.emit('event')
    })
  }
  // The log is written in batches (every 100 ms at most): the start line may come after the
  // port accepts. Waiting for it keeps it out of the first measurement's events.
  if (logs && !(await waitForEvent(events, emitter, (e) => e.source === 'start', 0, 10_000))) {
    await stop(child)
    throw new Error(`${name}: no "config applied" log line for the start`)
  }
  const admin = new Client(`http://127.0.0.1:${adminPort}`, { pipelining: 1 })
  return {
    name,
    pid: child.pid,
    port,
    adminPort,
    file,
    url: `http://127.0.0.1:${port}`,
    events,
    /** Full GCs seen with `--trace-gc` in nodeArgs (and logs: true): { at, afterMiB }. */
    fullGcs,
    /** Writes a new document to the config file (temp file + rename, as editors save). */
    writeConfig: (doc) =>
      writeAtomically(file, typeof doc === 'string' ? doc : JSON.stringify(doc)),
    /** POST /reload, with a document as the body or (none) re-reading the file. */
    reload: (body) => postReload(admin, body),
    /**
     * The first reload event at index ≥ from that satisfies pred, waiting up to timeoutMs;
     * null on timeout.
     */
    waitForEvent: (pred, { from = 0, timeoutMs = 5000 } = {}) =>
      waitForEvent(events, emitter, pred, from, timeoutMs),
    rssBytes: () => rssOf(child.pid),
    heapMetrics: () => heapMetrics(admin),
    async stop() {
      await admin.close().catch(() => {})
      await stop(child)
    },
  }
}

function writeAtomically(file, text) {
  const tmp = `${file}.tmp`
  fs.writeFileSync(tmp, text)
  fs.renameSync(tmp, file)
}

async function postReload(admin, body) {
  const t0 = performance.now()
  const res = await admin.request({
    method: 'POST',
    path: '/reload',
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
  })
  const text = await res.body.text()
  const ms = performance.now() - t0
  let json = null
  try {
    json = JSON.parse(text)
  } catch {
    // reported below as a non-JSON answer
  }
  return { status: res.statusCode, json, text, ms, sentAt: t0 }
}

async function waitForEvent(events, emitter, pred, from, timeoutMs) {
  const deadline = performance.now() + timeoutMs
  for (let i = from; ;) {
    for (; i < events.length; i++) if (pred(events[i])) return events[i]
    const left = deadline - performance.now()
    if (left <= 0) return null
    const ac = new AbortController()
    const timer = setTimeout(() => ac.abort(), left)
    try {
      await once(emitter, 'event', { signal: ac.signal })
    } catch {
      // timed out: one last look above
    } finally {
      clearTimeout(timer)
    }
  }
}

/** VmRSS of pid in bytes (Linux /proc), or null when it is gone. */
export function rssOf(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : null
  } catch {
    return null
  }
}

/**
 * From the admin's GET /metrics (prom-client's process metrics): V8 heap in use and committed
 * (`nodejs_heap_size_used_bytes`, `nodejs_heap_size_total_bytes`) and external memory
 * (`nodejs_external_memory_bytes`), in bytes; null where missing.
 */
async function heapMetrics(admin) {
  let text = ''
  try {
    const res = await admin.request({ method: 'GET', path: '/metrics' })
    text = await res.body.text()
  } catch {
    // all null below
  }
  const read = (name) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)
    return m ? Number(m[1]) : null
  }
  return {
    used: read('nodejs_heap_size_used_bytes'),
    total: read('nodejs_heap_size_total_bytes'),
    external: read('nodejs_external_memory_bytes'),
  }
}
