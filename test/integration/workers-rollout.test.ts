/**
 * Staged roll-out with `--workers 2` (SPEC §4.4, §5): the supervisor judges the workers' summed
 * counts and every worker follows its one decision: a failing canary is rolled back in both, a
 * promotion asked at one worker's admin API promotes both, and a worker started after the
 * promotion serves the promoted version.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appConfig, statusOrigin } from '../helpers/rollout-docs.ts'
import { request } from '../helpers/http-client.ts'
import { startLoad } from '../helpers/load.ts'
import { servingAddresses, startUpgradable } from '../helpers/upgradable-gateway.ts'
import { waitFor } from '../helpers/wait-for.ts'

test(
  '--workers 2: every worker follows the supervisor’s roll-out decisions',
  { timeout: 60_000 },
  async () => {
    const stable = await statusOrigin(200, 'stable')
    const failing = await statusOrigin(500, 'failing')
    const healthy = await statusOrigin(200, 'canary')
    const gw = await startUpgradable(appConfig(stable), { args: ['--workers', '2'] })
    try {
      const supervisor = gw.pid()
      await waitFor(() => gw.linesWith('worker ready').length === 2, { message: 'two workers' })
      const { url, admin } = await servingAddresses(gw, supervisor)

      // A failing canary under load on fresh connections (spread over both workers).
      const load = startLoad(url, { keepAlive: 0, fresh: 4 })
      const failingDoc = appConfig(
        failing,
        'rollout: { canary_percent: 25, window: 30s, max_error_rate: 0.05, min_requests: 40 }',
      )
      const started = await request(`${admin}/reload`, { method: 'POST', body: failingDoc })
      assert.equal(started.json<{ outcome: string }>().outcome, 'canary')
      await waitFor(() => gw.linesWith('roll-out rolled back').length === 2, {
        timeoutMs: 20_000,
        message: 'both workers roll the canary back',
      })
      // Each process batches its log lines: the supervisor's may come after the workers'.
      await waitFor(() => gw.linesWith('roll-out decided for every worker').length > 0, {
        message: 'the supervisor logs its decision',
      })
      const decided = gw.linesWith('roll-out decided for every worker')
      assert.equal(decided.length, 1, 'one decision, by the supervisor')
      const [decision] = decided
      assert.ok(decision)
      assert.equal(decision['outcome'], 'rolled_back')
      assert.match(String(decision['reason']), /\(all workers\)/)
      const rolledBack = gw.linesWith('roll-out rolled back')
      assert.equal(new Set(rolledBack.map((l) => l['pid'])).size, 2, 'each worker rolled back')
      for (const line of rolledBack) {
        const canary = line['canary'] as { requests: number; errors: number }
        assert.ok(canary.requests >= 40, `summed canary requests: ${canary.requests}`)
      }
      // Merged metrics count the one roll-back once, not once per worker.
      const metrics = (await request(`${admin}/metrics`)).text()
      assert.match(metrics, /^hitless_rollout_events_total\{event="rolled_back"\} 1$/m)
      assert.match(metrics, /^hitless_rollout_active 0$/m)
      const after = load.answers.length
      await waitFor(() => load.answers.length > after + 100, { message: 'more load' })
      const unexpected = await load.stop(['stable', 'status 500'])
      assert.deepEqual(unexpected, [])
      // In flight at the decision: at most one answer per loop may still come from the canary.
      const late = load.answers.slice(after + 4).filter((a) => a !== 'stable')
      assert.deepEqual(late, [])

      // A worker that replaces a dead one during a roll-out joins the canary; a promotion asked
      // at one worker's admin API then promotes every worker.
      const healthyDoc = appConfig(
        healthy,
        'rollout: { canary_percent: 50, window: 60s, max_error_rate: 0.5 }',
      )
      const canary = await request(`${admin}/reload`, { method: 'POST', body: healthyDoc })
      const canaryVersion = canary.json<{ version: string }>().version
      const running = await request(`${admin}/rollout`)
      assert.equal(running.json<{ state: string }>().state, 'running')
      const canaries = (): number =>
        gw.linesWith('roll-out started').filter((l) => l['canary_version'] === canaryVersion).length
      // Log lines come in batches: both workers' before the kill, to count the third one.
      await waitFor(() => canaries() === 2, { message: 'both workers run the canary' })
      const victim = Number(gw.linesWith('worker ready')[0]?.['worker_pid'])
      process.kill(victim, 'SIGKILL')
      await waitFor(() => gw.linesWith('worker ready').length === 3, {
        timeoutMs: 10_000,
        message: 'a replacement worker',
      })
      const replacement = gw.linesWith('worker ready')[2]
      assert.notEqual(replacement?.['config_version'], canaryVersion, 'it starts on the stable one')
      await waitFor(() => canaries() === 3, { message: 'it joins the canary' })
      const promoted = await request(`${admin}/rollout/promote`, { method: 'POST' })
      assert.equal(promoted.status, 200)
      assert.equal(promoted.json<{ outcome: string }>().outcome, 'promoted')
      await waitFor(() => gw.linesWith('roll-out promoted').length === 2, {
        message: 'both live workers promote',
      })
      const promotedPids = gw.linesWith('roll-out promoted').map((l) => l['pid'])
      assert.ok(promotedPids.includes(replacement?.['worker_pid']), 'the replacement promoted')
      for (let i = 0; i < 20; i++) assert.equal((await request(url)).text(), 'canary')
      const none = await request(`${admin}/rollout/abort`, { method: 'POST' })
      assert.equal(none.status, 409)

      // A worker that replaces a dead one after the promotion starts on the promoted version.
      const victim2 = Number(replacement?.['worker_pid'])
      process.kill(victim2, 'SIGKILL')
      await waitFor(() => gw.linesWith('worker ready').length === 4, {
        timeoutMs: 10_000,
        message: 'a second replacement worker',
      })
      assert.equal(gw.linesWith('worker ready')[3]?.['config_version'], canaryVersion)

      // A rollback through a worker's admin API: replacements start on the version rolled back to.
      const firstVersion = String(gw.linesWith('worker ready')[0]?.['config_version'])
      const back = await request(`${admin}/rollback`, {
        method: 'POST',
        body: JSON.stringify({ version: firstVersion }),
      })
      assert.equal(back.json<{ outcome: string }>().outcome, 'applied')
      for (let i = 0; i < 20; i++) assert.equal((await request(url)).text(), 'stable')
      const second = Number(gw.linesWith('worker ready')[1]?.['worker_pid'])
      process.kill(second, 'SIGKILL')
      await waitFor(() => gw.linesWith('worker ready').length === 5, {
        timeoutMs: 10_000,
        message: 'another replacement worker',
      })
      assert.equal(gw.linesWith('worker ready')[4]?.['config_version'], firstVersion)
    } finally {
      await gw.close()
      await stable.close()
      await failing.close()
      await healthy.close()
    }
  },
)
