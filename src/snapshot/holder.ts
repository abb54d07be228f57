/**
 * Holds the current snapshot. The swap is one assignment on the event loop; a request reads
 * the reference once on entry (`acquire`) and keeps it to the end (`release`), so in-flight
 * work finishes on the snapshot it started with (SPEC §4.3). During a staged roll-out (§4.4)
 * the current snapshot is the stable version and a split sends a share of new requests to the
 * canary beside it.
 */
import type { IncomingMessage } from 'node:http'
import type { RolloutSplit } from './rollout-split.ts'
import type { Snapshot } from './snapshot.ts'

export class SnapshotHolder {
  #current: Snapshot | null = null
  #split: RolloutSplit | null = null
  #generation = 0

  /** The stable snapshot: what new requests get outside a roll-out. Null before the first config. */
  get current(): Snapshot | null {
    return this.#current
  }

  /** Increases by one on every swap. */
  get generation(): number {
    return this.#generation
  }

  /**
   * Pins and returns the snapshot `req` runs on (the canary or the stable one during a
   * roll-out); pair with `release`. Null before the first swap.
   */
  acquire(req?: IncomingMessage): Snapshot | null {
    const split = this.#split
    const snapshot = split === null || req === undefined ? this.#current : split.choose(req)
    snapshot?.pin()
    return snapshot
  }

  release(snapshot: Snapshot): void {
    snapshot.unpin()
  }

  /** Makes `next` current and retires the previous snapshot (freed after its last request). */
  swap(next: Snapshot, onPreviousDisposed?: () => void): Snapshot | null {
    const previous = this.#current
    this.#current = next
    this.#generation++
    previous?.retire(onPreviousDisposed)
    return previous
  }

  /**
   * Starts (or replaces) a roll-out: `split.stable` must be the current snapshot. A canary it
   * replaces is retired.
   */
  split(split: RolloutSplit): void {
    const replaced = this.#split?.canary
    this.#split = split
    this.#generation++
    if (replaced !== undefined && replaced !== split.canary) replaced.retire()
  }

  /**
   * Ends the roll-out. `promote`: the canary becomes current and the stable version is
   * retired; otherwise the canary is retired and the stable version alone serves.
   */
  endSplit(promote: boolean): void {
    const split = this.#split
    if (split === null) return
    this.#split = null
    if (promote) this.swap(split.canary)
    else {
      this.#generation++
      split.canary.retire()
    }
  }

  /** Retires the current snapshot (and a canary) without a successor (shutdown). */
  clear(): void {
    this.endSplit(false)
    const previous = this.#current
    this.#current = null
    previous?.retire()
  }
}
