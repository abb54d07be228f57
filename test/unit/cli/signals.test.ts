import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EarlySignals } from '../../../src/cli/signals.ts'
import { waitFor } from '../../helpers/wait-for.ts'

test('signals that come while the process starts are held, then handled in order', async () => {
  const signals = new EarlySignals()
  try {
    // Without the handlers, SIGHUP and SIGUSR2 would end this process by their default action.
    for (const signal of ['SIGHUP', 'SIGUSR2', 'SIGTERM'] as const) {
      const before = signals.pending.length
      process.kill(process.pid, signal)
      await waitFor(() => signals.pending.length > before, { message: `${signal} is held` })
    }
    await signals.stopped
    assert.equal(signals.stopRequested, true)
    const handled: NodeJS.Signals[] = []
    signals.attach((signal) => handled.push(signal))
    assert.deepEqual(handled, ['SIGHUP', 'SIGUSR2', 'SIGTERM'])
    process.kill(process.pid, 'SIGHUP')
    await waitFor(() => handled.length === 4, { message: 'a later signal goes to the handler' })
    assert.equal(handled[3], 'SIGHUP')
  } finally {
    signals.dispose()
  }
})
