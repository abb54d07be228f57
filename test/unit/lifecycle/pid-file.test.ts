import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { readPidFile, removePidFile, writePidFile } from '../../../src/lifecycle/pid-file.ts'

test('the pid file is written whole (no temporary file left) and read back', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hitless-pid-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'hitless.pid')
  writePidFile(file, 4242)
  assert.equal(readPidFile(file), 4242)
  assert.deepEqual(readdirSync(dir), ['hitless.pid'])
  writePidFile(file, 4343)
  assert.equal(readPidFile(file), 4343, 'replaced, as a successor does')
})

test('only the process the file names removes it', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hitless-pid-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'hitless.pid')
  writePidFile(file, 4343)
  removePidFile(file, 4242)
  assert.equal(existsSync(file), true, 'a predecessor leaves its successor’s file alone')
  removePidFile(file, 4343)
  assert.equal(existsSync(file), false)
  removePidFile(file, 4343)
})

test('a missing or malformed pid file is a clear error', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hitless-pid-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'hitless.pid')
  assert.throws(() => readPidFile(file), { message: `cannot read ${file}: no such file` })
  writeFileSync(file, 'not a pid\n')
  assert.throws(() => readPidFile(file), { message: `${file} does not hold a process id` })
  writeFileSync(file, '-3')
  assert.throws(() => readPidFile(file), /does not hold a process id/)
})
