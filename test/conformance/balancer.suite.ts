/**
 * The conformance suite every load balancer passes (STYLE.md §H, Hono's common.case.test.ts
 * idea): the pick rules of `Balancer.pick` plus weight handling over many seeded picks. A case may
 * be skipped only with a written reason, and a reason for a case that does not exist fails.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import type { BalancerFactory, Pickable } from '../../src/upstream/balancers/balancer.ts'
import { createSeededRandom } from '../helpers/seeded-random.ts'

/** How a balancer is expected to share traffic, and which cases do not apply to it. */
export interface BalancerConformanceOptions {
  /** Shares follow `weight`; otherwise every available target gets an equal share. */
  readonly weighted?: boolean
  /** Deterministic: shares are exact over whole cycles rather than within `tolerance`. */
  readonly exact?: boolean
  /** Largest relative deviation of a target's share from its expected share; default 0.1. */
  readonly tolerance?: number
  /** Case title → why it does not apply to this balancer. */
  readonly skip?: Readonly<Record<string, string>>
}

/** A target whose health and load the cases flip between picks, as the registry would. */
export interface TestTarget extends Pickable {
  readonly key: string
  readonly weight: number
  inFlight: number
  available: boolean
}

/** Targets `t0`, `t1`, … with the given weights, all available and idle. */
export function makeTargets(weights: readonly number[]): TestTarget[] {
  return weights.map((weight, index) => ({
    key: `http://10.0.0.${index}:80`,
    weight,
    inFlight: 0,
    available: true,
  }))
}

/** Asserts the three pick rules of `Balancer.pick` for one pick against the live state. */
export function assertPickRules(
  targets: readonly TestTarget[],
  exclude: readonly TestTarget[] | undefined,
  picked: TestTarget | undefined,
): void {
  const available = targets.filter((target) => target.available)
  if (available.length === 0) {
    assert.equal(picked, undefined, 'nothing is available, so nothing may be picked')
    return
  }
  assert.ok(picked !== undefined, 'a target is available, so one must be picked')
  assert.ok(targets.includes(picked), 'picked a target outside the list')
  assert.ok(picked.available, `picked unavailable ${picked.key}`)
  const untried = available.filter((target) => exclude?.includes(target) !== true)
  if (untried.length > 0) {
    assert.ok(exclude?.includes(picked) !== true, `picked excluded ${picked.key} with others up`)
  }
}

// Divisible by every cycle length used below, so exact balancers land on exact counts.
const SHARE_PICKS = 24_000

interface Case {
  readonly title: string
  readonly run: (factory: BalancerFactory, opts: BalancerConformanceOptions) => void
}

const CASES: readonly Case[] = [
  {
    title: 'returns undefined for an empty target list',
    run: (factory) => {
      const balancer = factory<TestTarget>([], { random: createSeededRandom(1) })
      assert.equal(balancer.pick({}), undefined)
      assert.equal(balancer.pick({ hashKey: 'user-1' }), undefined)
      assert.equal(balancer.pick({ exclude: [] }), undefined)
    },
  },
  {
    title: 'returns the only target of a single-target list, even when excluded',
    run: (factory) => {
      const [only] = makeTargets([3]) as [TestTarget]
      const balancer = factory([only], { random: createSeededRandom(2) })
      for (let i = 0; i < 20; i++) {
        assert.equal(balancer.pick({}), only)
        assert.equal(balancer.pick({ hashKey: `user-${i}` }), only)
        assert.equal(balancer.pick({ exclude: [only] }), only)
      }
      only.available = false
      assert.equal(balancer.pick({}), undefined)
      assert.equal(balancer.pick({ hashKey: 'user-1', exclude: [only] }), undefined)
    },
  },
  {
    title: 'returns undefined when every target is unavailable',
    run: (factory) => {
      const targets = makeTargets([1, 2, 3])
      const balancer = factory(targets, { random: createSeededRandom(3) })
      for (const target of targets) target.available = false
      for (let i = 0; i < 20; i++) {
        assert.equal(balancer.pick({}), undefined)
        assert.equal(balancer.pick({ hashKey: `user-${i}` }), undefined)
        assert.equal(balancer.pick({ exclude: [targets[0]!] }), undefined)
      }
    },
  },
  {
    title: 'never picks an unavailable target while an available one exists',
    run: (factory) => {
      // Availability flips, loads, exclusions and hash keys all random; the rules always hold.
      const chaos = createSeededRandom(4)
      const targets = makeTargets([1, 2, 3, 1])
      const balancer = factory(targets, { random: createSeededRandom(5) })
      for (let i = 0; i < 5_000; i++) {
        const flipped = targets[Math.floor(chaos() * targets.length)]!
        flipped.available = !flipped.available
        flipped.inFlight = Math.floor(chaos() * 8)
        const exclude = chaos() < 0.3 ? targets.filter(() => chaos() < 0.4) : undefined
        const hashKey = chaos() < 0.5 ? `user-${Math.floor(chaos() * 100)}` : undefined
        assertPickRules(targets, exclude, balancer.pick({ hashKey, exclude }))
      }
    },
  },
  {
    title: 'honours exclude when another available target exists',
    run: (factory) => {
      const targets = makeTargets([1, 1, 1, 1])
      const [a, b, c, d] = targets as [TestTarget, TestTarget, TestTarget, TestTarget]
      const balancer = factory(targets, { random: createSeededRandom(6) })
      for (let i = 0; i < 200; i++) {
        const tried = targets[i % 4]!
        assert.notEqual(balancer.pick({ hashKey: `user-${i}`, exclude: [tried] }), tried)
        assert.equal(balancer.pick({ hashKey: `user-${i}`, exclude: [a, b, c] }), d)
      }
      b.available = false
      for (let i = 0; i < 200; i++) {
        const picked = balancer.pick({ hashKey: `user-${i}`, exclude: [a] })
        assert.ok(picked === c || picked === d, `picked ${picked?.key}`)
      }
    },
  },
  {
    title: 'falls back to an excluded target only when no other is available',
    run: (factory) => {
      const targets = makeTargets([1, 1, 1, 1])
      const [a, b, c, d] = targets as [TestTarget, TestTarget, TestTarget, TestTarget]
      const balancer = factory(targets, { random: createSeededRandom(7) })
      for (let i = 0; i < 100; i++) {
        assertPickRules(targets, targets, balancer.pick({ hashKey: `u${i}`, exclude: targets }))
      }
      c.available = false
      d.available = false
      for (let i = 0; i < 100; i++) {
        const picked = balancer.pick({ hashKey: `user-${i}`, exclude: [a, b] })
        assert.ok(picked === a || picked === b, `picked ${picked?.key}`)
        assert.equal(balancer.pick({ hashKey: `user-${i}`, exclude: [a] }), b)
      }
      b.available = false
      assert.equal(balancer.pick({ hashKey: 'user-1', exclude: [a] }), a)
    },
  },
  {
    title: 'shares follow the weights over many picks',
    run: (factory, opts) => assertShares(factory, opts, [1, 2, 3, 4], []),
  },
  {
    title: 'redistributes an unavailable target share over the others',
    run: (factory, opts) => assertShares(factory, opts, [1, 2, 3, 2], [1]),
  },
  {
    title: 'gives a target traffic again once it is available again',
    run: (factory) => {
      const targets = makeTargets([1, 1, 1])
      const [a] = targets as [TestTarget]
      const balancer = factory(targets, { random: createSeededRandom(8) })
      a.available = false
      for (let i = 0; i < 300; i++) assert.notEqual(balancer.pick({ hashKey: `user-${i}` }), a)
      a.available = true
      const picks = Array.from({ length: 300 }, (_, i) => balancer.pick({ hashKey: `user-${i}` }))
      assert.ok(picks.includes(a), 'the recovered target got no traffic')
    },
  },
  {
    title: 'spreads identical requests over every available target',
    run: (factory) => {
      const targets = makeTargets([1, 1, 1])
      const balancer = factory(targets, { random: createSeededRandom(9) })
      const picked = new Set<TestTarget | undefined>()
      for (let i = 0; i < 300; i++) picked.add(balancer.pick({ hashKey: 'client-1' }))
      assert.deepEqual([...picked].sort(byKey), targets)
    },
  },
]

/**
 * Picks SHARE_PICKS times with distinct hash keys while the targets at `down` are unavailable,
 * and compares each target's count with its share of the available weight (or an equal share).
 */
function assertShares(
  factory: BalancerFactory,
  opts: BalancerConformanceOptions,
  weights: readonly number[],
  down: readonly number[],
): void {
  const targets = makeTargets(weights)
  for (const index of down) targets[index]!.available = false
  const balancer = factory(targets, { random: createSeededRandom(10) })
  const counts = new Map(targets.map((target) => [target, 0]))
  for (let i = 0; i < SHARE_PICKS; i++) {
    const picked = balancer.pick({ hashKey: `user-${i}` })
    assert.ok(picked !== undefined)
    counts.set(picked, counts.get(picked)! + 1)
  }
  const share = (target: TestTarget): number =>
    target.available ? (opts.weighted === true ? target.weight : 1) : 0
  const totalShare = targets.reduce((sum, target) => sum + share(target), 0)
  const expected = targets.map((target) => (SHARE_PICKS * share(target)) / totalShare)
  const actual = targets.map((target) => counts.get(target)!)
  if (opts.exact === true) {
    assert.deepEqual(actual, expected)
    return
  }
  const tolerance = opts.tolerance ?? 0.1
  expected.forEach((want, index) => {
    const got = actual[index]!
    const message = `target ${index}: ${got} picks, expected ${want} ± ${tolerance * 100}%`
    assert.ok(Math.abs(got - want) <= tolerance * want, message)
  })
}

function byKey(a: TestTarget | undefined, b: TestTarget | undefined): number {
  return (a?.key ?? '').localeCompare(b?.key ?? '')
}

/** Registers the conformance cases for the balancer `name` under one `describe`. */
export function balancerConformance(
  name: string,
  factory: BalancerFactory,
  opts: BalancerConformanceOptions = {},
): void {
  const skip = opts.skip ?? {}
  // `void`: node:test tracks these promises itself; no-floating-promises cannot know that.
  void describe(`balancer conformance: ${name}`, () => {
    for (const { title, run } of CASES) {
      void test(title, { skip: skip[title] ?? false }, () => run(factory, opts))
    }
    void test('skips only cases that exist, each with a reason', () => {
      const titles = new Set(CASES.map((c) => c.title))
      for (const [title, reason] of Object.entries(skip)) {
        assert.ok(titles.has(title), `skip names no case: ${JSON.stringify(title)}`)
        assert.ok(reason.trim().length > 0, `skip of ${JSON.stringify(title)} has no reason`)
      }
    })
  })
}
