/**
 * The root pino logger and its destinations. JSON lines on stdout by default; `pretty` is a
 * small human format of our own (one line per entry), so no formatter dependency is needed.
 */
import { Writable } from 'node:stream'
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino'

export type { Logger }
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'
export type LogFormat = 'json' | 'pretty'

export interface LoggerOptions {
  readonly level: LogLevel
  readonly format?: LogFormat
  /** Where lines go; defaults to stdout. Tests pass a collecting stream. */
  readonly destination?: DestinationStream
}

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
}

/** Creates the root logger; subsystems take `logger.child({ subsystem })`. */
export function createLogger(opts: LoggerOptions): Logger {
  const level: LevelWithSilent = opts.level
  const base = { pid: process.pid }
  if (opts.format === 'pretty') {
    return pino({ level, base }, createPrettyStream(opts.destination ?? process.stdout))
  }
  const destination = opts.destination ?? createStdoutDestination()
  return pino({ level, base }, destination)
}

/** Lines are written in batches of about this many characters… */
const BATCH_CHARS = 16 * 1024
/** …or at least this often, so a quiet gateway's log is never more than this late. */
const FLUSH_INTERVAL_MS = 100

/**
 * Stdout in batches: pino hands over one string per line, this joins them and writes once per
 * batch. bench/micro/access-log.js measures the access log's line shape: about 1.4 µs of CPU
 * per line here against 2.3 µs with pino's synchronous destination and 3.9 µs with its
 * asynchronous one, whose per-write bookkeeping and thread-pool hop cost more than its
 * batching saves (bench/RESULTS.md, "Access log"). process.stdout is synchronous on Linux for files, pipes and terminals, so a batch is
 * never lost at exit once `flushSync` ran.
 */
export class BatchedStdout implements DestinationStream {
  #parts: string[] = []
  #chars = 0
  readonly #out: NodeJS.WritableStream

  constructor(out: NodeJS.WritableStream = process.stdout) {
    this.#out = out
    setInterval(() => this.flushSync(), FLUSH_INTERVAL_MS).unref()
  }

  write(line: string): void {
    this.#parts.push(line)
    this.#chars += line.length
    if (this.#chars >= BATCH_CHARS) this.flushSync()
  }

  /** Writes out everything buffered now. */
  flushSync(): void {
    if (this.#parts.length === 0) return
    const text = this.#parts.join('')
    this.#parts = []
    this.#chars = 0
    this.#out.write(text)
  }
}

function createStdoutDestination(): DestinationStream {
  return new BatchedStdout()
}

/** Writes out whatever the stdout destination still buffers (call before the process exits). */
export function flushLogger(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym]
  if (stream instanceof BatchedStdout) stream.flushSync()
}

/** `HH:MM:SS.mmm LEVEL msg key=value …`, parsed back from pino's JSON line. */
function createPrettyStream(out: DestinationStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') out.write(prettyLine(line) + '\n')
      }
      done()
    },
  })
}

function prettyLine(line: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  const { time, level, msg, pid: _pid, hostname: _host, ...rest } = entry
  const clock = new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 23)
  const name = LEVEL_NAMES[typeof level === 'number' ? level : 30] ?? 'INFO'
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? oneLine(v) : JSON.stringify(v)}`)
    .join(' ')
  const text = typeof msg === 'string' ? oneLine(msg) : ''
  return `${clock} ${name.padEnd(5)} ${text} ${fields}`.trimEnd()
}

/** A value with control characters is quoted, so one entry can never span (or forge) lines. */
function oneLine(value: string): string {
  return /[\u0000-\u001f\u007f]/.test(value) ? JSON.stringify(value) : value
}
