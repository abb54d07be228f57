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
  // Async destination: the access log writes one line per request, and a synchronous
  // write(2) per line would cost more than the proxying itself.
  const destination = opts.destination ?? pino.destination({ dest: 1, sync: false })
  return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, destination)
}

/** Flushes an async stdout destination before the process exits. */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush()
  } catch {
    // Flushing a closed or synchronous destination is harmless to skip.
  }
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
