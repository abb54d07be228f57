import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { breached, stickyText, versionCounts } from '../../../src/lifecycle/rollout.ts'
import { WorkersRollout } from '../../../src/lifecycle/workers-rollout.ts'
import type { RolloutConfig } from '../../../src/config/types.ts'
import type { RolloutCounts } from '../../../src/metrics/metrics.ts'
import { createLogger } from '../../../src/log/logger.ts'
import { waitFor } from '../../helpers/wait-for.ts'

const config: RolloutConfig = {
  canaryPercent: 10,
  windowMs: 60_000,
  maxErrorRate: 0.05,
  minRequests: 20,
  sticky: null,
}

describe('breached', () => {
  test('not before min_requests, however bad', () => {
    assert.equal(breached(config, { requests: 19, errors: 19 }, { requests: 0, errors: 0 }), false)
    assert.equal(breached(config, { requests: 20, errors: 20 }, { requests: 0, errors: 0 }), true)
  })

  test('above max_error_rate and above the stable rate, both', () => {
    // 10% > 5%, stable 0%: breach.
    assert.equal(
      breached(config, { requests: 100, errors: 10 }, { requests: 900, errors: 0 }),
      true,
    )
    // Exactly max_error_rate is not above it.
    assert.equal(
      breached(config, { requests: 100, errors: 5 }, { requests: 900, errors: 0 }),
      false,
    )
    // The stable version fails as much (a broken upstream shared by both): no breach.
    assert.equal(
      breached(config, { requests: 100, errors: 10 }, { requests: 900, errors: 90 }),
      false,
    )
    assert.equal(
      breached(config, { requests: 100, errors: 10 }, { requests: 900, errors: 80 }),
      true,
    )
  })

  test('with min_requests 0 no request decides nothing', () => {
    const zero = { ...config, minRequests: 0 }
    assert.equal(breached(zero, { requests: 0, errors: 0 }, { requests: 0, errors: 0 }), false)
  })

  test('views', () => {
    assert.deepEqual(versionCounts('v', { requests: 3, errors: 1 }), {
      version: 'v',
      requests: 3,
      errors: 1,
      error_rate: 0.3333,
    })
    assert.equal(stickyText(null), null)
    assert.equal(stickyText({ kind: 'client-ip' }), 'client-ip')
    assert.equal(stickyText({ kind: 'cookie', name: 'sid' }), 'cookie:sid')
  })
})

describe('WorkersRollout (the supervisor judges every worker’s counts)', () => {
  const logger = createLogger({ level: 'silent' })
  const counts = (canary: [number, number], stable: [number, number]): RolloutCounts => ({
    canary: { requests: canary[0], errors: canary[1] },
    stable: { requests: stable[0], errors: stable[1] },
  })

  function judge() {
    const decisions: { version: string; outcome: string; reason: string }[] = []
    const shared: RolloutCounts[] = []
    const rollout = new WorkersRollout({
      logger,
      decide: (version, outcome, reason) => {
        decisions.push({ version, outcome, reason })
        return Promise.resolve(null)
      },
      share: (_version, sum) => shared.push(sum),
    })
    return { rollout, decisions, shared }
  }

  test('the sum decides: neither worker alone has min_requests', async () => {
    const { rollout, decisions, shared } = judge()
    rollout.start('c1', config)
    rollout.report(0, 'c1', counts([12, 12], [100, 0]))
    assert.deepEqual(decisions, [])
    // A stale report for another canary is ignored.
    rollout.report(1, 'old', counts([50, 50], [0, 0]))
    assert.deepEqual(decisions, [])
    // A worker's newer report replaces its older one (cumulative, not added twice).
    rollout.report(0, 'c1', counts([13, 13], [110, 0]))
    assert.deepEqual(shared.at(-1), counts([13, 13], [110, 0]))
    rollout.report(1, 'c1', counts([7, 7], [90, 0]))
    assert.deepEqual(shared.at(-1), counts([20, 20], [200, 0]))
    await waitFor(() => decisions.length === 1)
    const decision = decisions[0] as { outcome: string; reason: string } | undefined
    assert.ok(decision)
    assert.equal(decision.outcome, 'rolled_back')
    assert.match(decision.reason, /100\.0% over 20 requests \(all workers\)/)
    assert.equal(rollout.canaryVersion, null)
    // Decided once.
    rollout.report(1, 'c1', counts([30, 30], [90, 0]))
    assert.equal(decisions.length, 1)
  })

  test('the window ends clean: promoted; by hand; stop', async () => {
    const { rollout, decisions } = judge()
    rollout.start('c2', { ...config, windowMs: 30 })
    await waitFor(() => decisions.length === 1, { message: 'window end' })
    assert.deepEqual(decisions[0], {
      version: 'c2',
      outcome: 'promoted',
      reason: 'the window ended clean',
    })
    assert.equal(await rollout.byHand('abort'), null, 'nothing runs')
    rollout.start('c3', config)
    await rollout.byHand('abort')
    assert.equal(decisions[1]?.outcome, 'aborted')
    rollout.start('c4', config)
    rollout.stop()
    assert.equal(rollout.canaryVersion, null)
  })
})
