/**
 * The trailing debounce with a cap, on mock timers: one run per burst, `delayMs` after the last
 * trigger, or `maxWaitMs` after the first when triggers never stop.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, mock, test } from 'node:test'
import { Debouncer } from '../../../../src/config/sources/debounce.ts'

describe('Debouncer', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }))
  afterEach(() => mock.timers.reset())

  test('runs once, delayMs after the last trigger of a burst', () => {
    let runs = 0
    const d = new Debouncer(() => runs++, 100, 1000)
    d.trigger()
    mock.timers.tick(60)
    d.trigger()
    mock.timers.tick(99)
    assert.equal(runs, 0)
    assert.equal(d.pending, true)
    mock.timers.tick(1)
    assert.equal(runs, 1)
    assert.equal(d.pending, false)
    mock.timers.tick(5000)
    assert.equal(runs, 1)
  })

  test('a burst that never goes quiet runs at maxWaitMs after its first trigger', () => {
    let runs = 0
    const d = new Debouncer(() => runs++, 100, 1000)
    for (let t = 0; t < 1000; t += 50) {
      d.trigger()
      mock.timers.tick(50)
    }
    assert.equal(runs, 1)
    // The next trigger starts a new burst with a fresh cap.
    for (let t = 0; t < 950; t += 50) {
      d.trigger()
      mock.timers.tick(50)
    }
    assert.equal(runs, 1)
    d.trigger()
    mock.timers.tick(50)
    assert.equal(runs, 2)
  })

  test('a trigger after a run starts a new burst', () => {
    let runs = 0
    const d = new Debouncer(() => runs++, 100, 1000)
    d.trigger()
    mock.timers.tick(100)
    d.trigger()
    mock.timers.tick(100)
    assert.equal(runs, 2)
  })

  test('cancel() drops the scheduled run', () => {
    let runs = 0
    const d = new Debouncer(() => runs++, 100, 1000)
    d.trigger()
    d.cancel()
    mock.timers.tick(2000)
    assert.equal(runs, 0)
    assert.equal(d.pending, false)
  })

  test('a maxWaitMs below delayMs is raised to delayMs', () => {
    let runs = 0
    const d = new Debouncer(() => runs++, 100, 10)
    d.trigger()
    mock.timers.tick(99)
    assert.equal(runs, 0)
    mock.timers.tick(1)
    assert.equal(runs, 1)
  })
})
