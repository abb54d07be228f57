/**
 * A staged roll-out across `--workers N` (SPEC §4.4, §5): every worker runs the same canary,
 * but no worker decides alone. Each sends its counts (every 20 ms while they change); the
 * supervisor sums them, judges the sum with the rule of rollout.ts, owns the window's timer, and
 * tells every worker the one decision (rolled back, promoted, or by hand). The sums go back to
 * the workers too, so GET /rollout and the metrics of any worker show the whole gateway's counts.
 */
import type { RolloutConfig } from '../config/types.ts'
import type { Logger } from '../log/logger.ts'
import type { RolloutCounts } from '../metrics/metrics.ts'
import {
  breachReason,
  breached,
  type Counts,
  type RolloutEnd,
  type RolloutResult,
} from './rollout.ts'

export interface WorkersRolloutDeps {
  readonly logger: Logger
  /** Tells every worker a decision about canary `version`. */
  readonly decide: (
    version: string,
    outcome: Exclude<RolloutEnd, 'superseded'>,
    reason: string,
  ) => Promise<RolloutResult | null>
  /** Tells every worker the summed counts (for GET /rollout and metrics). */
  readonly share: (version: string, counts: RolloutCounts) => void
}

interface Running {
  readonly version: string
  readonly config: RolloutConfig
  readonly byWorker: Map<number, RolloutCounts>
  readonly timer: NodeJS.Timeout
  deciding: boolean
}

export class WorkersRollout {
  readonly #deps: WorkersRolloutDeps
  #running: Running | null = null

  constructor(deps: WorkersRolloutDeps) {
    this.#deps = deps
  }

  /** The canary version being judged, or null. */
  get canaryVersion(): string | null {
    return this.#running?.version ?? null
  }

  /** The workers started canary `version` (a running one is replaced). */
  start(version: string, config: RolloutConfig): void {
    if (this.#running?.version === version) return
    this.stop()
    const timer = setTimeout(
      () => void this.#decide('promoted', 'the window ended clean'),
      config.windowMs,
    )
    timer.unref()
    this.#running = { version, config, byWorker: new Map(), timer, deciding: false }
  }

  /** The roll-out ended without a decision of ours (superseded, or the supervisor stops). */
  stop(): void {
    if (this.#running !== null) clearTimeout(this.#running.timer)
    this.#running = null
  }

  /** Worker `worker`'s own counts of canary `version`. */
  report(worker: number, version: string, counts: RolloutCounts): void {
    const running = this.#running
    if (running === null || running.version !== version || running.deciding) return
    running.byWorker.set(worker, counts)
    const sum = { canary: { requests: 0, errors: 0 }, stable: { requests: 0, errors: 0 } }
    for (const c of running.byWorker.values()) {
      add(sum.canary, c.canary)
      add(sum.stable, c.stable)
    }
    this.#deps.share(version, sum)
    if (!breached(running.config, sum.canary, sum.stable)) return
    void this.#decide(
      'rolled_back',
      breachReason(running.config, sum.canary, sum.stable, ' (all workers)'),
    )
  }

  /**
   * POST /rollout/promote | abort from a worker's admin API: a worker's result of it, or null
   * when no roll-out runs.
   */
  byHand(action: 'promote' | 'abort'): Promise<RolloutResult | null> {
    const outcome = action === 'promote' ? 'promoted' : 'aborted'
    return this.#decide(outcome, `${outcome} by hand`)
  }

  async #decide(
    outcome: Exclude<RolloutEnd, 'superseded'>,
    reason: string,
  ): Promise<RolloutResult | null> {
    const running = this.#running
    if (running === null || running.deciding) return null
    running.deciding = true
    clearTimeout(running.timer)
    this.#deps.logger.info(
      { canary_version: running.version, outcome, reason },
      'roll-out decided for every worker',
    )
    try {
      return await this.#deps.decide(running.version, outcome, reason)
    } finally {
      if (this.#running === running) this.#running = null
    }
  }
}

function add(into: { requests: number; errors: number }, counts: Counts): void {
  into.requests += counts.requests
  into.errors += counts.errors
}
