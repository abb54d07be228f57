/**
 * A staged roll-out's data-plane half (SPEC §4.4): which of two snapshots, stable or canary, a
 * new request runs on, and the per-version tally of what each answered. The decisions (rollback,
 * promotion) are lifecycle/rollout.ts's; this module only assigns and counts, in O(1) per request.
 */
import type { IncomingMessage } from 'node:http'
import type { StickyKey } from '../config/types.ts'
import { cookieValue } from '../util/cookie.ts'
import type { Snapshot } from './snapshot.ts'

/** Requests and 5xx answers of one version during a roll-out. */
export class RolloutTally {
  requests = 0
  errors = 0
  readonly #onRecord: () => void
  #open = true

  constructor(onRecord: () => void) {
    this.#onRecord = onRecord
  }

  /** The roll-out ended: requests still running when it did are not counted. */
  close(): void {
    this.#open = false
  }

  /**
   * A request (or tunnel) that started on this version during the roll-out ended with `status`.
   * Callers take the tally when the request starts, so one from before the roll-out counts not.
   */
  record(status: number): void {
    if (!this.#open) return
    this.requests++
    if (status >= 500) this.errors++
    this.#onRecord()
  }
}

/** Buckets of the assignment: a share is given in hundredths of a percent. */
const BUCKETS = 10_000

export class RolloutSplit {
  readonly stable: Snapshot
  readonly canary: Snapshot
  /** Buckets (of BUCKETS) that go to the canary. */
  readonly #canaryBuckets: number
  readonly #sticky: StickyKey | null
  readonly #random: () => number

  constructor(init: {
    stable: Snapshot
    canary: Snapshot
    canaryPercent: number
    sticky: StickyKey | null
    random: () => number
  }) {
    this.stable = init.stable
    this.canary = init.canary
    this.#canaryBuckets = Math.round(init.canaryPercent * (BUCKETS / 100))
    this.#sticky = init.sticky
    this.#random = init.random
  }

  /**
   * The version a new request runs on. Sticky: the same key always lands in the same bucket,
   * so a client stays on one version for the whole window (a request without the key is
   * assigned on its own, as with no `sticky`).
   */
  choose(req: IncomingMessage): Snapshot {
    const key = this.#sticky === null ? undefined : stickyValue(req, this.#sticky)
    const bucket = key === undefined ? Math.floor(this.#random() * BUCKETS) : fnv1a(key) % BUCKETS
    return bucket < this.#canaryBuckets ? this.canary : this.stable
  }
}

function stickyValue(req: IncomingMessage, sticky: StickyKey): string | undefined {
  switch (sticky.kind) {
    case 'client-ip':
      return req.socket.remoteAddress
    case 'header': {
      const value = req.headers[sticky.name]
      return Array.isArray(value) ? value[0] : value
    }
    case 'cookie':
      return cookieValue(req.headers.cookie, sticky.name)
  }
}

/** FNV-1a, 32 bits: a cheap hash that spreads short keys (IPs, ids) evenly. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
