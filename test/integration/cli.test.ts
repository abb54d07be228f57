/**
 * The `hitless` executable as a user runs it: exit codes and human output of `validate` and of
 * `run` when it cannot start, never a stack trace.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net, { type AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { runCli } from '../helpers/run-cli.ts'

const VALID = `listeners:
  - name: public
    address: 127.0.0.1:0
upstreams:
  app:
    targets: [{ url: http://127.0.0.1:9 }]
routes:
  - name: app
    match: { prefix: /app }
    upstream: app
`

const INVALID = `listeners:
  - name: public
    adress: 127.0.0.1:0
upstreams:
  app:
    targets: [{ url: http://127.0.0.1:9 }]
routes:
  - name: app
    match: { prefix: /app }
    upstream: missing
`

describe('hitless CLI', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hitless-cli-'))
    await writeFile(path.join(dir, 'valid.yaml'), VALID)
    await writeFile(path.join(dir, 'invalid.yaml'), INVALID)
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('validate: exit 0 and a one-line summary for a valid file', async () => {
    const out = await runCli(['validate', '-c', path.join(dir, 'valid.yaml')])
    assert.equal(out.code, 0, out.stderr)
    const lines = out.stdout.trim().split('\n')
    assert.equal(lines.length, 1)
    assert.match(
      lines[0]!,
      /^ok: .*valid\.yaml .*1 listener, 1 upstream, 1 route \(version [0-9a-f]{12}\)/,
    )
  })

  test('validate: exit 1 and every error with its place, no stack trace', async () => {
    const out = await runCli(['validate', '-c', path.join(dir, 'invalid.yaml')])
    assert.equal(out.code, 1)
    assert.match(out.stderr, /invalid\.yaml:3:5: listeners\[0\]\.adress: .*did you mean "address"/)
    assert.doesNotMatch(out.stderr, /\n\s+at /, 'no stack trace')
  })

  test('validate: a missing file is a clear error', async () => {
    const out = await runCli(['validate', '-c', path.join(dir, 'nope.yaml')])
    assert.equal(out.code, 1)
    assert.match(out.stderr, /nope\.yaml/)
    assert.doesNotMatch(out.stderr, /\n\s+at /)
  })

  test('run: an invalid config exits 1 listing the errors', async () => {
    const out = await runCli(['run', '-c', path.join(dir, 'invalid.yaml')])
    assert.equal(out.code, 1)
    assert.match(out.stderr, /the config is invalid/)
    assert.match(out.stderr, /listeners\[0\]\.adress/)
    assert.doesNotMatch(out.stderr, /\n\s+at /)
  })

  test('run: an address in use exits 1 naming the listener', async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const port = (blocker.address() as AddressInfo).port
    try {
      const file = path.join(dir, 'busy.yaml')
      await writeFile(file, VALID.replace('127.0.0.1:0', `127.0.0.1:${port}`))
      const out = await runCli(['run', '-c', file])
      assert.equal(out.code, 1)
      assert.match(out.stderr, /HITLESS_ERR_LISTEN_FAILED.*listener public.*EADDRINUSE/)
      assert.doesNotMatch(out.stderr, /\n\s+at /)
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()))
    }
  })

  test('run --workers: an address in use or a bad count is a clear error, exit 1 or 2', async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const port = (blocker.address() as AddressInfo).port
    try {
      const file = path.join(dir, 'busy-workers.yaml')
      await writeFile(file, VALID.replace('127.0.0.1:0', `127.0.0.1:${port}`))
      const out = await runCli(['run', '-c', file, '--workers', '2'])
      assert.equal(out.code, 1)
      assert.match(out.stderr, new RegExp(`cannot bind 127\\.0\\.0\\.1:${port}: EADDRINUSE`))
      assert.doesNotMatch(out.stderr, /\n\s+at /)
      const invalid = await runCli(['run', '-c', path.join(dir, 'invalid.yaml'), '--workers', '2'])
      assert.equal(invalid.code, 1, 'a bad config stops the supervisor before any worker starts')
      const bad = await runCli(['run', '-c', file, '--workers', '0'])
      assert.equal(bad.code, 2)
      assert.match(bad.stderr, /--workers takes a whole number from 1 to 256/)
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()))
    }
  })

  test('usage: --help exits 0, an unknown command or flag exits 2', async () => {
    assert.equal((await runCli(['--help'])).code, 0)
    const unknown = await runCli(['frobnicate'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown command "frobnicate"/)
    assert.equal((await runCli(['run', '--nope'])).code, 2)
  })
})
