/**
 * Holds the current snapshot. The swap is one assignment on the event loop; a request reads
 * the reference once on entry (`acquire`) and keeps it to the end (`release`), so in-flight
 * work finishes on the snapshot it started with (SPEC §4.3).
 */
import type { Snapshot } from './snapshot.ts'

export class SnapshotHolder {
  #current: Snapshot | null = null
  #generation = 0

  /** The snapshot new requests get, or null before the first config is applied. */
  get current(): Snapshot | null {
    return this.#current
  }

  /** Increases by one on every swap. */
  get generation(): number {
    return this.#generation
  }

  /** Pins and returns the current snapshot; pair with `release`. Null before the first swap. */
  acquire(): Snapshot | null {
    const snapshot = this.#current
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

  /** Retires the current snapshot without a successor (shutdown). */
  clear(): void {
    const previous = this.#current
    this.#current = null
    previous?.retire()
  }
}
