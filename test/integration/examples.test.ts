/**
 * The examples stay runnable: every config in examples/ is valid as shipped, the bad canary of
 * the roll-out walk-through carries a rollout block, and examples/library.js (the library API
 * through the package's own name, i.e. dist/ as `npm install` and `npm test` build it) runs and
 * prints what docs/library.md says it prints.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { loadConfig } from '../../src/config/load.ts'

const root = path.resolve(import.meta.dirname, '..', '..', '..')

test('every example config is valid; the bad canary is a roll-out', async () => {
  for (const name of ['quickstart.yaml', 'rollout-bad-canary.yaml']) {
    const file = path.join(root, 'examples', name)
    const loaded = loadConfig(await readFile(file, 'utf8'), { source: file, env: {} })
    assert.equal(loaded.config.rollout !== null, name === 'rollout-bad-canary.yaml', name)
  }
  const fleet = path.join(root, 'examples', 'fleet.yaml')
  loadConfig(await readFile(fleet, 'utf8'), { source: fleet, env: {}, etcdCluster: true })
})

test('examples/library.js runs: 200, 401 from the auth middleware, 200 with the user', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(root, 'examples', 'library.js')],
    { cwd: root, timeout: 20_000 },
  )
  const lines = stdout.trim().split('\n')
  assert.equal(lines.length, 3, stdout)
  assert.match(lines[0] ?? '', /^GET \/healthz → 200 ok {2}\[server-timing: total;dur=/)
  assert.match(lines[1] ?? '', /^GET \/api\/orders → 401 \{"error":"unauthorized"\}/)
  assert.match(lines[2] ?? '', /→ 200 \{"path":"\/api\/orders","user":"ada"\}.*upstream;dur=/)
})
