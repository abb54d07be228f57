import { test } from 'node:test'
import { collectWhenQuiet } from '../../../src/lifecycle/idle-gc.ts'
import { waitFor } from '../../helpers/wait-for.ts'

test('after the last reload, garbage is collected once things are quiet', async () => {
  // An idle test process allocates next to nothing: V8 has no reason to collect by itself
  // within a few seconds, so a cleared WeakRef means the scheduled collection ran.
  let garbage: object | null = { payload: new Array(100_000).fill('retired snapshot') }
  const ref = new WeakRef(garbage)
  garbage = null
  collectWhenQuiet()
  collectWhenQuiet() // a burst: one collection, after the last
  await waitFor(() => ref.deref() === undefined, {
    timeoutMs: 5000,
    intervalMs: 50,
    message: 'the retired object is collected',
  })
})
