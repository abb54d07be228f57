/**
 * What every discovery mechanism (DNS, an etcd prefix) offers the upstreams that use it: the
 * current target list, a way to follow its changes, and a promise for the first answer. A source
 * keeps its last good list through failures; it reports them, it never empties the list for them.
 */

/** One discovered target. */
export interface DiscoveredTarget {
  /** `scheme://host:port`, as a config target's origin. */
  readonly origin: string
  readonly weight: number
}

export type TargetsListener = (targets: readonly DiscoveredTarget[]) => void

export interface DiscoverySource {
  /** For logs and GET /upstreams, e.g. `dns users.internal:80` or `etcd /services/users/`. */
  readonly description: string
  /** The targets last found, sorted by origin; null until the first answer. */
  readonly targets: readonly DiscoveredTarget[] | null
  /** Calls `listener` on every change of the list (never with an unchanged one). */
  subscribe(listener: TargetsListener): () => void
  /** Resolves once the first answer is in (at once if it is); never rejects. */
  known(): Promise<void>
  /** Stops every timer, watch and connection; idempotent. */
  close(): void
}

/** How a source reports what it found and what went wrong (the hub logs them). */
export interface SourceEvents {
  readonly onChange: (source: DiscoverySource, targets: readonly DiscoveredTarget[]) => void
  readonly onProblem: (source: DiscoverySource, message: string) => void
  readonly onRecovered: (source: DiscoverySource) => void
}

/** The part every source shares: the list, its subscribers, the first-answer promise. */
export abstract class BaseSource implements DiscoverySource {
  abstract readonly description: string
  #targets: readonly DiscoveredTarget[] | null = null
  #key = ''
  readonly #listeners = new Set<TargetsListener>()
  readonly #known: Promise<void>
  #resolveKnown: () => void = () => undefined
  protected readonly events: SourceEvents
  #failing = false
  /** Set by close(): nothing is published after it. */
  protected closed = false

  constructor(events: SourceEvents) {
    this.events = events
    this.#known = new Promise((resolve) => (this.#resolveKnown = resolve))
  }

  get targets(): readonly DiscoveredTarget[] | null {
    return this.#targets
  }

  subscribe(listener: TargetsListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  known(): Promise<void> {
    return this.#known
  }

  abstract close(): void

  /** A new answer: kept and announced if it differs from the last one. */
  protected publish(found: readonly DiscoveredTarget[]): void {
    if (this.closed) return
    this.recovered()
    const targets = [...found].sort((a, b) =>
      a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0,
    )
    const key = targets.map((t) => `${t.origin} ${t.weight}`).join('\n')
    const first = this.#targets === null
    if (!first && key === this.#key) return
    this.#targets = Object.freeze(targets)
    this.#key = key
    this.events.onChange(this, this.#targets)
    for (const listener of this.#listeners) {
      try {
        listener(this.#targets)
      } catch (err) {
        // One upstream failing to take the answer (a pool that cannot be created) must not keep
        // it from the others, nor escape into the resolver or the etcd client.
        this.events.onProblem(this, `applying the targets failed: ${(err as Error).message}`)
      }
    }
    if (first) this.#resolveKnown()
  }

  /** A failed attempt: reported once per streak; the last good list stays. */
  protected problem(message: string): void {
    if (this.#failing) return
    this.#failing = true
    this.events.onProblem(this, message)
  }

  /** Working again after a reported problem: reported once. */
  protected recovered(): void {
    if (!this.#failing) return
    this.#failing = false
    this.events.onRecovered(this)
  }
}
