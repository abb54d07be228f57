/**
 * createLogger: JSON lines (level, msg, time, pid, bindings) by default, a one-line human format
 * with `pretty`, and level filtering, written to a collecting destination.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createLogger, flushLogger } from '../../../src/log/logger.ts'
import type { LogFormat, LogLevel } from '../../../src/log/logger.ts'

/** A destination that keeps every line written to it. */
function collector(): { lines: string[]; destination: { write(chunk: string): void } } {
  const lines: string[] = []
  return {
    lines,
    destination: {
      write(chunk: string) {
        for (const line of chunk.split('\n')) if (line !== '') lines.push(line)
      },
    },
  }
}

function logTo(level: LogLevel, format: LogFormat = 'json') {
  const { lines, destination } = collector()
  const logger = createLogger({ level, format, destination })
  return { logger, lines }
}

/** The one entry written, parsed. */
function only(lines: readonly string[]): Record<string, unknown> {
  assert.equal(lines.length, 1, `expected one line, got ${JSON.stringify(lines)}`)
  return JSON.parse(lines[0]!) as Record<string, unknown>
}

function parsed(lines: readonly string[]): Record<string, unknown>[] {
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>)
}

void describe('createLogger (json)', () => {
  void test('writes one JSON line per entry with level, msg, epoch-ms time, pid and the fields', () => {
    const { logger, lines } = logTo('info')
    logger.info({ route: 'users', status: 200 }, 'request done')
    const entry = only(lines)
    assert.equal(entry['level'], 30)
    assert.equal(entry['msg'], 'request done')
    assert.equal(entry['route'], 'users')
    assert.equal(entry['status'], 200)
    assert.equal(entry['pid'], process.pid)
    // Epoch milliseconds (pino's default): an ISO string per line cost ~1% of CPU under load.
    assert.equal(typeof entry['time'], 'number')
    assert.ok(Math.abs((entry['time'] as number) - Date.now()) < 60_000)
  })

  void test('child loggers add their bindings to every line', () => {
    const { logger, lines } = logTo('info')
    logger.child({ subsystem: 'proxy' }).warn('slow upstream')
    const entry = only(lines)
    assert.equal(entry['subsystem'], 'proxy')
    assert.equal(entry['level'], 40)
    assert.equal(entry['msg'], 'slow upstream')
  })

  const LEVELS: readonly (readonly [LogLevel, readonly number[]])[] = [
    ['debug', [20, 30, 40, 50]],
    ['info', [30, 40, 50]],
    ['warn', [40, 50]],
    ['error', [50]],
    ['silent', []],
  ]
  for (const [level, written] of LEVELS) {
    void test(`at level ${level} writes only levels ${written.join(', ') || 'none'}`, () => {
      const { logger, lines } = logTo(level)
      logger.debug('d')
      logger.info('i')
      logger.warn('w')
      logger.error('e')
      assert.deepEqual(
        parsed(lines).map((e) => e['level']),
        written,
      )
    })
  }

  void test('flushLogger never throws, even on a plain destination', () => {
    const { logger } = logTo('info')
    assert.doesNotThrow(() => flushLogger(logger))
  })
})

void describe('createLogger (pretty)', () => {
  void test('writes one human line per entry: clock, level, message, then key=value fields', () => {
    const { logger, lines } = logTo('info', 'pretty')
    logger.info({ route: 'users', n: 3, obj: { a: 1 } }, 'request done')
    logger.error('boom')
    assert.deepEqual(lines.length, 2)
    assert.match(
      lines[0]!,
      /^\d{2}:\d{2}:\d{2}\.\d{3} INFO  request done route=users n=3 obj=\{"a":1\}$/,
    )
    assert.match(lines[1]!, /^\d{2}:\d{2}:\d{2}\.\d{3} ERROR boom$/)
  })

  void test('leaves out pid and hostname, and is not JSON', () => {
    const { logger, lines } = logTo('info', 'pretty')
    logger.info('hello')
    assert.doesNotMatch(lines[0]!, /pid=|hostname=/)
    assert.throws(() => JSON.parse(lines[0]!) as unknown)
  })

  void test('filters by level like the JSON format', () => {
    const { logger, lines } = logTo('warn', 'pretty')
    logger.info('dropped')
    logger.warn('kept')
    assert.equal(lines.length, 1)
    assert.match(lines[0]!, / WARN  kept$/)
  })

  void test('keeps an entry whose message or string field holds a newline on one line', () => {
    const { logger, lines } = logTo('info', 'pretty')
    logger.info({ header: 'x\n00:00:00.000 ERROR forged' }, 'first\nsecond')
    assert.equal(lines.length, 1)
  })
})
