import { test } from 'node:test'
import assert from 'node:assert/strict'
import { OutlierDetector } from '../../../src/upstream/outlier.ts'
import { TargetState } from '../../../src/upstream/target-state.ts'

function targets(n: number): TargetState[] {
  return Array.from({ length: n }, (_, i) => new TargetState('app', `http://127.0.0.1:${1000 + i}`))
}

test('consecutive failures eject a target for ejection_time; a success resets the count', () => {
  const [a, b] = targets(2) as [TargetState, TargetState]
  const ejected: TargetState[] = []
  const detector = new OutlierDetector(
    { consecutiveFailures: 3, ejectionTimeMs: 60_000, maxEjectionPercent: 50 },
    [a, b],
    (s) => ejected.push(s),
  )
  detector.record(a, true)
  detector.record(a, true)
  detector.record(a, false)
  detector.record(a, true)
  detector.record(a, true)
  assert.equal(a.available, true, 'the success in between reset the count')
  detector.record(a, true)
  assert.equal(a.available, false)
  assert.equal(a.ejections, 1)
  assert.deepEqual(ejected, [a])
  assert.ok(a.ejectedUntilMs > Date.now() + 59_000)
})

test('max_ejection_percent caps how many are out at once (at least one)', () => {
  const three = targets(3)
  const detector = new OutlierDetector(
    { consecutiveFailures: 1, ejectionTimeMs: 60_000, maxEjectionPercent: 34 },
    three,
    () => undefined,
  )
  for (const s of three) detector.record(s, true)
  assert.deepEqual(
    three.map((s) => s.available),
    [false, true, true],
    '34 % of 3 is 1 target',
  )
  const pair = targets(2)
  const small = new OutlierDetector(
    { consecutiveFailures: 1, ejectionTimeMs: 60_000, maxEjectionPercent: 10 },
    pair,
    () => undefined,
  )
  for (const s of pair) small.record(s, true)
  assert.deepEqual(
    pair.map((s) => s.available),
    [false, true],
    '10 % of 2 rounds down to 0, but one may always go',
  )
})

test('an ejected target comes back by itself when its time is up', async () => {
  const [a, b] = targets(2) as [TargetState, TargetState]
  const detector = new OutlierDetector(
    { consecutiveFailures: 1, ejectionTimeMs: 30, maxEjectionPercent: 50 },
    [a, b],
    () => undefined,
  )
  detector.record(a, true)
  assert.equal(a.available, false)
  await new Promise((resolve) => setTimeout(resolve, 40))
  assert.equal(a.available, true)
})

test('the last available target is never ejected, nor a lone one', () => {
  const [a, b] = targets(2) as [TargetState, TargetState]
  const all = new OutlierDetector(
    { consecutiveFailures: 1, ejectionTimeMs: 60_000, maxEjectionPercent: 100 },
    [a, b],
    () => undefined,
  )
  all.record(a, true)
  all.record(b, true)
  assert.deepEqual([a.available, b.available], [false, true], 'b is all that is left')

  const [c, d] = targets(2) as [TargetState, TargetState]
  c.healthy = false // out by its health checks
  const withUnhealthy = new OutlierDetector(
    { consecutiveFailures: 1, ejectionTimeMs: 60_000, maxEjectionPercent: 100 },
    [c, d],
    () => undefined,
  )
  withUnhealthy.record(d, true)
  assert.equal(d.available, true)

  const [lone] = targets(1) as [TargetState]
  const single = new OutlierDetector(
    { consecutiveFailures: 1, ejectionTimeMs: 60_000, maxEjectionPercent: 100 },
    [lone],
    () => undefined,
  )
  single.record(lone, true)
  assert.equal(lone.available, true)
})

test('failures of requests in flight while ejected do not count against the next turn', async () => {
  const [a, b] = targets(2) as [TargetState, TargetState]
  const detector = new OutlierDetector(
    { consecutiveFailures: 2, ejectionTimeMs: 20, maxEjectionPercent: 50 },
    [a, b],
    () => undefined,
  )
  detector.record(a, true)
  detector.record(a, true)
  assert.equal(a.available, false)
  detector.record(a, true)
  detector.record(a, true)
  await new Promise((resolve) => setTimeout(resolve, 30))
  assert.equal(a.available, true)
  detector.record(a, true)
  assert.equal(a.available, true, 'one failure after its return is not two')
})

test('max_ejection_percent 0 turns ejection off', () => {
  const [a, b] = targets(2) as [TargetState, TargetState]
  const off = new OutlierDetector(
    { consecutiveFailures: 1, ejectionTimeMs: 60_000, maxEjectionPercent: 0 },
    [a, b],
    () => undefined,
  )
  for (let i = 0; i < 5; i++) off.record(a, true)
  assert.equal(a.available, true)
  assert.equal(a.ejections, 0)
})

test('a late failure of a target that left the set (discovery) ejects nothing', () => {
  const [a, b, gone] = targets(3) as [TargetState, TargetState, TargetState]
  const ejected: TargetState[] = []
  const detector = new OutlierDetector(
    { consecutiveFailures: 1, ejectionTimeMs: 60_000, maxEjectionPercent: 100 },
    [a, b],
    (s) => ejected.push(s),
  )
  detector.record(gone, true)
  assert.deepEqual(ejected, [])
  assert.equal(gone.ejectedUntilMs, 0)
})
