/**
 * Waiting without sleeping: poll a condition on a short interval until it holds, bounded by a
 * timeout that fails the test with a message.
 */
import { once, type EventEmitter } from 'node:events'

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5000)
  for (;;) {
    if (await condition()) return
    if (Date.now() > deadline) throw new Error(`timed out: ${opts.message ?? 'condition'}`)
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 10))
  }
}

/** `once(emitter, event)` that rejects after `timeoutMs`. */
export async function onceWithin<T extends unknown[] = unknown[]>(
  emitter: EventEmitter,
  event: string,
  timeoutMs = 5000,
): Promise<T> {
  return (await once(emitter, event, { signal: AbortSignal.timeout(timeoutMs) })) as T
}
