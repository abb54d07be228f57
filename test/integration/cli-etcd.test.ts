/**
 * The CLI's fleet-mode commands against a real etcd: `hitless config push` validates before it
 * writes (an invalid document leaves the key untouched, a valid one is written as it is, `${VAR}`
 * left for each gateway), `hitless validate --etcd` accepts etcd discovery without an
 * `etcd` block, bad flag combinations exit 2, and a gateway waiting for its first document
 * exits 0 on SIGTERM.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Etcd3 } from 'etcd3'
import { startEtcd, type EtcdServer } from '../helpers/etcd-server.ts'
import { runCli } from '../helpers/run-cli.ts'
import { isRunning, startUpgradable } from '../helpers/upgradable-gateway.ts'
import { waitFor } from '../helpers/wait-for.ts'

const VALID = [
  'listeners:',
  "  - { address: '127.0.0.1:${HITLESS_PORT:-0}' }",
  'upstreams:',
  '  app: { discovery: { etcd: { prefix: /services/app/ } } }',
  'routes:',
  '  - { match: { prefix: / }, upstream: app }',
  '',
].join('\n')

async function withEtcd(run: (etcd: EtcdServer, dir: string) => Promise<void>): Promise<void> {
  const etcd = await startEtcd()
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hitless-cli-etcd-'))
  try {
    await run(etcd, dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
    await etcd.close()
  }
}

test('config push validates first, then writes the text as it is', { timeout: 30_000 }, () =>
  withEtcd(async (etcd, dir) => {
    const client = new Etcd3({ hosts: etcd.url })
    try {
      const bad = path.join(dir, 'bad.yaml')
      await writeFile(bad, VALID.replace('upstream: app', 'upstream: nope'))
      const refused = await runCli([
        'config',
        'push',
        '-c',
        bad,
        '--etcd',
        etcd.url,
        '--etcd-key',
        '/k',
      ])
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /bad\.yaml:6:\d+: routes\[0\]\.upstream: /)
      assert.match(refused.stderr, /not pushed: .* etcd is unchanged/)
      assert.equal(await client.get('/k').string(), null)

      const good = path.join(dir, 'good.yaml')
      await writeFile(good, VALID)
      const pushed = await runCli([
        'config',
        'push',
        '-c',
        good,
        '--etcd',
        etcd.url,
        '--etcd-key',
        '/k',
      ])
      assert.equal(pushed.code, 0, pushed.stderr)
      assert.match(pushed.stdout, /^pushed: .*good\.yaml → etcd \/k at revision \d+\n$/)
      assert.equal(await client.get('/k').string(), VALID)

      // validate: etcd discovery needs a cluster, which --etcd gives.
      const alone = await runCli(['validate', '-c', good])
      assert.equal(alone.code, 1)
      assert.match(alone.stderr, /etcd discovery needs a cluster/)
      assert.equal((await runCli(['validate', '-c', good, '--etcd', etcd.url])).code, 0)
    } finally {
      client.close()
    }
  }),
)

test('fleet-mode flags: what does not go together exits 2', async () => {
  for (const args of [
    ['run', '--etcd', 'http://127.0.0.1:2379'],
    ['run', '--etcd-key', '/k'],
    ['run', '--etcd', 'http://127.0.0.1:2379', '--etcd-key', '/k', '--workers', '2'],
    ['run', '--etcd', 'ftp://127.0.0.1:2379', '--etcd-key', '/k'],
    ['config', 'push', '-c', 'x.yaml'],
  ]) {
    const outcome = await runCli(args)
    assert.equal(outcome.code, 2, `${args.join(' ')}: ${outcome.stderr}`)
    assert.match(outcome.stderr, /^hitless: /)
  }
})

test('a fleet gateway waiting for its document exits 0 on SIGTERM', { timeout: 30_000 }, () =>
  withEtcd(async (etcd) => {
    const gw = await startUpgradable('# unused\n', {
      noWait: true,
      args: ['--etcd', etcd.url, '--etcd-key', '/missing'],
    })
    try {
      await waitFor(() => gw.linesWith('no usable config document').length > 0, {
        timeoutMs: 10_000,
        message: `waiting; stderr: ${gw.stderr()}`,
      })
      const [pid] = [...gw.pids]
      assert.ok(pid !== undefined)
      process.kill(pid, 'SIGTERM')
      await waitFor(() => !isRunning(pid) && gw.exitCode() !== null, {
        timeoutMs: 5000,
        message: 'exits on SIGTERM',
      })
      assert.equal(gw.exitCode(), 0)
      assert.equal(gw.stderr(), '')
    } finally {
      await gw.close()
    }
  }),
)
