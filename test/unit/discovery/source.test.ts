/**
 * BaseSource, what every discovery source shares: the first answer resolves known(); an
 * unchanged answer is not announced; a problem is reported once per streak and keeps the list;
 * a listener that throws is reported and does not keep the answer from the others; nothing is
 * published after close().
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BaseSource, type DiscoveredTarget } from '../../../src/discovery/source.ts'
import { within } from '../../helpers/within.ts'

class HandSource extends BaseSource {
  readonly description = 'by hand'
  readonly problems: string[] = []
  recoveries = 0
  changes = 0
  constructor() {
    super({
      onChange: () => void this.changes++,
      onProblem: (_s, message) => void this.problems.push(message),
      onRecovered: () => void this.recoveries++,
    })
  }
  set(targets: readonly DiscoveredTarget[]): void {
    this.publish(targets)
  }
  fail(message: string): void {
    this.problem(message)
  }
  close(): void {
    this.closed = true
  }
}

const A = { origin: 'http://10.0.0.1:80', weight: 1 }
const B = { origin: 'http://10.0.0.2:80', weight: 1 }

test('first answer, sorting, unchanged answers, problems and recovery', async () => {
  const source = new HandSource()
  assert.equal(source.targets, null)
  const seen: (readonly DiscoveredTarget[])[] = []
  source.subscribe((t) => seen.push(t))
  source.set([B, A])
  await within(source.known(), 1000, 'known()')
  assert.deepEqual(source.targets, [A, B])
  source.set([A, B])
  assert.equal(seen.length, 1, 'the same set in another order is no change')
  source.fail('timeout')
  source.fail('timeout again')
  assert.deepEqual(source.problems, ['timeout'], 'one report per streak')
  assert.deepEqual(source.targets, [A, B], 'a problem keeps the list')
  source.set([A])
  assert.equal(source.recoveries, 1)
  assert.deepEqual(seen.at(-1), [A])
})

test('a throwing listener is reported; the others still get the answer', () => {
  const source = new HandSource()
  const got: number[] = []
  source.subscribe(() => {
    throw new Error('no pool')
  })
  source.subscribe((t) => got.push(t.length))
  source.set([A, B])
  assert.deepEqual(got, [2])
  assert.deepEqual(source.problems, ['applying the targets failed: no pool'])
})

test('nothing is published after close()', () => {
  const source = new HandSource()
  let calls = 0
  source.subscribe(() => calls++)
  source.close()
  source.set([A])
  assert.equal(calls, 0)
  assert.equal(source.targets, null)
})
