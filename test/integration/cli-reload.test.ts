/**
 * `hitless reload` against a running gateway process: through the admin API (outcome and exit
 * code come back) and by SIGHUP through a pid file.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { runCli } from '../helpers/run-cli.ts'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import { spawnGateway, type SpawnedGateway } from '../helpers/spawn-gateway.ts'
import { request } from '../helpers/http-client.ts'
import { waitFor } from '../helpers/wait-for.ts'

describe('hitless reload', () => {
  let up: FakeUpstream
  let gw: SpawnedGateway
  let dir: string
  const doc = (prefix: string): Record<string, unknown> => ({
    listeners: [{ name: 'public', address: '127.0.0.1:0' }],
    admin: { address: '127.0.0.1:0', token_env: 'CLI_TEST_TOKEN' },
    upstreams: { u: { targets: [{ url: up.url }] } },
    routes: [{ name: 'r', match: { prefix }, upstream: 'u' }],
  })

  before(async () => {
    up = await startFakeUpstream()
    dir = await mkdtemp(path.join(os.tmpdir(), 'hitless-cli-reload-'))
    gw = await spawnGateway(doc('/one'), { env: { CLI_TEST_TOKEN: 'tok' } })
  })

  after(async () => {
    await gw.close()
    await up.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('through the admin API: unchanged, applied, then rejected with the errors', async () => {
    const admin = ['reload', '--admin', gw.adminUrl!, '--token-env', 'CLI_TEST_TOKEN']
    const env = { CLI_TEST_TOKEN: 'tok' }
    const same = await runCli(admin, env)
    assert.equal(same.code, 0, same.stderr)
    assert.match(same.stdout, /^unchanged: version [0-9a-f]{12}/)

    await writeFile(gw.configPath, JSON.stringify(doc('/two')))
    // The watcher may apply the file before the command does; both outcomes mean "serving it".
    const applied = await runCli(admin, env)
    assert.equal(applied.code, 0, applied.stderr)
    assert.match(applied.stdout, /^(applied|unchanged): version/)
    assert.equal((await request(`${gw.url}/two`)).status, 200)

    await writeFile(
      gw.configPath,
      JSON.stringify({ ...doc('/three'), defaults: { drain_timout: '1s' } }),
    )
    const rejected = await runCli(admin, env)
    assert.equal(rejected.code, 1)
    assert.match(rejected.stderr, /rejected: the running config keeps serving/)
    assert.match(
      rejected.stderr,
      /defaults\.drain_timout \(\d+:\d+\): .*did you mean "drain_timeout"/,
    )
    assert.equal((await request(`${gw.url}/two`)).status, 200)
  })

  test('without the token the admin API refuses and the command says so', async () => {
    const out = await runCli(['reload', '--admin', gw.adminUrl!, '--token-env', 'NO_SUCH_VAR'])
    assert.equal(out.code, 1)
    assert.match(out.stderr, /HTTP 401/)
  })

  test('--pid-file sends SIGHUP to that process, which reloads', async () => {
    await writeFile(gw.configPath, JSON.stringify(doc('/four')))
    const pidFile = path.join(dir, 'hitless.pid')
    await writeFile(pidFile, `${gw.pid}\n`)
    const out = await runCli(['reload', '--pid-file', pidFile])
    assert.equal(out.code, 0, out.stderr)
    assert.match(out.stdout, new RegExp(`sent SIGHUP to ${gw.pid}`))
    await waitFor(async () => (await request(`${gw.url}/four`)).status === 200, {
      message: 'reloaded after SIGHUP',
    })
    await waitFor(
      () => gw.logs.some((l) => l['msg'] === 'reload requested' && l['signal'] === 'SIGHUP'),
      { message: 'SIGHUP logged' },
    )
  })

  test('an unreadable pid file or an unreachable admin API is a clear error', async () => {
    const missing = await runCli(['reload', '--pid-file', path.join(dir, 'nope.pid')])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /cannot read/)
    const garbage = path.join(dir, 'garbage.pid')
    await writeFile(garbage, 'not a pid')
    assert.match(
      (await runCli(['reload', '--pid-file', garbage])).stderr,
      /does not hold a process id/,
    )
    const down = await runCli(['reload', '--admin', 'http://127.0.0.1:1'])
    assert.equal(down.code, 1)
    assert.match(down.stderr, /cannot reach the admin API/)
  })
})
