/**
 * Trailing debounce with a cap: a burst of triggers runs the action once, `delayMs` after the
 * last trigger, or `maxWaitMs` after the first one if the burst never goes quiet. Timers only
 * (no clock reads), so tests drive it with `mock.timers`.
 */

/** Runs an action once per burst of `trigger()` calls. */
export class Debouncer {
  readonly #action: () => void
  readonly #delayMs: number
  readonly #maxWaitMs: number
  #quiet: NodeJS.Timeout | undefined
  #cap: NodeJS.Timeout | undefined

  /**
   * `delayMs`: quiet time after the last trigger. `maxWaitMs`: longest wait after the first
   * trigger of a burst (at least `delayMs`).
   */
  constructor(action: () => void, delayMs: number, maxWaitMs: number) {
    this.#action = action
    this.#delayMs = delayMs
    this.#maxWaitMs = Math.max(delayMs, maxWaitMs)
  }

  /** Whether a run is scheduled. */
  get pending(): boolean {
    return this.#quiet !== undefined
  }

  /** Starts a burst, or extends the current one (never past its cap). */
  trigger(): void {
    clearTimeout(this.#quiet)
    this.#quiet = setTimeout(() => this.#fire(), this.#delayMs)
    this.#cap ??= setTimeout(() => this.#fire(), this.#maxWaitMs)
  }

  /** Drops the scheduled run, if any. */
  cancel(): void {
    clearTimeout(this.#quiet)
    clearTimeout(this.#cap)
    this.#quiet = undefined
    this.#cap = undefined
  }

  #fire(): void {
    this.cancel()
    this.#action()
  }
}
