/**
 * Pure retry decision (Caddy's `tryAgain`): may a failed attempt be tried again on another
 * target? Only when attempts remain, the failure is one the route lists in `retries.on`, and
 * the request is safe to send again: nothing was sent yet (connect phase), or the method is
 * idempotent (or the route opted in) and the whole body so far is still in the replay buffer.
 */
import type { AttemptPhase } from '../errors.ts'
import type { CompiledRetries } from '../snapshot/route-entry.ts'

/** RFC 9110 §9.2.2 idempotent methods (plus OPTIONS/HEAD, which are safe). */
const IDEMPOTENT: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'PUT',
  'DELETE',
  'TRACE',
])

export interface RetryQuestion {
  readonly retries: CompiledRetries
  /** Attempts made so far, including the one that just failed. */
  readonly attemptsMade: number
  readonly method: string
  readonly phase: AttemptPhase
  /** Conditions this failure satisfies, e.g. ['connect-failure'] or ['503']. */
  readonly conditions: readonly string[]
  /** False when body bytes beyond the replay buffer were already read. */
  readonly bodyReplayable: boolean
}

export function mayRetry(q: RetryQuestion): boolean {
  if (q.attemptsMade > q.retries.attempts) return false
  if (!q.conditions.some((c) => q.retries.on.has(c))) return false
  if (q.phase === 'connect') return true
  if (!q.bodyReplayable) return false
  return IDEMPOTENT.has(q.method) || q.retries.nonIdempotent
}
