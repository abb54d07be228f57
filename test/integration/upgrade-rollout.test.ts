/**
 * A hot upgrade (SIGUSR2) during a staged roll-out, or after one was rolled back: the config
 * file holds the canary's document, yet the new process must not serve it to everyone. It starts
 * on the stable document the old process hands over, then reads the file as a reload would: a
 * running canary becomes a canary again (judged afresh), a rolled-back one stays refused.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { appConfig, statusOrigin } from '../helpers/rollout-docs.ts'
import { request } from '../helpers/http-client.ts'
import { servingAddresses, startUpgradable } from '../helpers/upgradable-gateway.ts'
import { waitFor } from '../helpers/wait-for.ts'

interface RolloutJson {
  state: string
  stable?: { version: string }
  last?: { outcome: string } | null
}

test(
  'SIGUSR2 during a roll-out, and after a rollback, never serves the canary to everyone',
  { timeout: 60_000 },
  async () => {
    const stable = await statusOrigin(200, 'stable')
    const healthy = await statusOrigin(200, 'canary')
    const failing = await statusOrigin(500, 'failing')
    const gw = await startUpgradable(appConfig(stable))
    try {
      const first = gw.pid()
      const { url, admin } = await servingAddresses(gw, first)
      const stableVersion = (await request(`${admin}/config`)).json<{ version: string }>().version

      // A canary (half the traffic, a long window) from the file, then an upgrade.
      writeFileSync(
        gw.configPath,
        appConfig(healthy, 'rollout: { canary_percent: 50, window: 60s, max_error_rate: 0.5 }'),
      )
      await waitFor(
        async () => (await request(`${admin}/rollout`)).json<RolloutJson>().state === 'running',
        { message: 'the canary runs' },
      )
      const second = await gw.upgrade()
      await waitFor(() => gw.linesWith('hitless serving on').some((l) => l['pid'] === second), {
        message: 'the new process serves',
      })
      const view = (await request(`${admin}/rollout`)).json<RolloutJson>()
      assert.equal(view.state, 'running', 'the canary runs again in the new process')
      assert.equal(view.stable?.version, stableVersion, 'beside the same stable version')
      const answers = new Set<string>()
      for (let i = 0; i < 60; i++) answers.add((await request(url)).text())
      assert.deepEqual([...answers].sort(), ['canary', 'stable'])

      // A failing canary, rolled back; then an upgrade: the new process serves the stable version
      // and refuses the file's (rolled-back) document.
      writeFileSync(
        gw.configPath,
        appConfig(
          failing,
          'rollout: { canary_percent: 100, window: 60s, max_error_rate: 0.1, min_requests: 5 }',
        ),
      )
      await waitFor(
        async () => {
          await request(url)
          const v = (await request(`${admin}/rollout`)).json<RolloutJson>()
          return v.state === 'none' && v.last?.outcome === 'rolled_back'
        },
        { timeoutMs: 10_000, message: 'the failing canary is rolled back' },
      )
      const third = await gw.upgrade()
      await waitFor(() => gw.linesWith('hitless serving on').some((l) => l['pid'] === third), {
        message: 'the third process serves',
      })
      for (let i = 0; i < 20; i++) assert.equal((await request(url)).text(), 'stable')
      const after = (await request(`${admin}/rollout`)).json<RolloutJson>()
      assert.equal(after.state, 'none')
      const history = (await request(`${admin}/config/history`)).json<{
        history: { outcome: string; source: string; errors: { message: string }[] }[]
      }>().history
      const [latest] = history
      assert.ok(latest)
      assert.equal(latest.outcome, 'rejected')
      assert.match(latest.errors[0]?.message ?? '', /was rolled back/)
      assert.equal(gw.linesWith('hot upgrade: started on the stable document').length, 2)
    } finally {
      await gw.close()
      await stable.close()
      await healthy.close()
      await failing.close()
    }
  },
)
