/**
 * A staged roll-out (SPEC §4.4): a canary snapshot serves `canary_percent` of new requests
 * beside the stable one for `window`. This module holds one roll-out's state (the split, both
 * tallies, the window timer) and the rule that judges it; reload.ts starts and ends roll-outs.
 *
 * The rule (as Argo Rollouts' and Flagger's analysis, reduced to what SPEC asks): once the
 * canary has answered `min_requests`, it is rolled back as soon as its 5xx rate is above
 * `max_error_rate` and above the stable version's over the same window. With `--workers N` the
 * supervisor judges the summed counts of every worker (`judged: 'elsewhere'`) and tells every
 * worker the decision; a worker then judges nothing itself.
 */
import type { LoadedConfig } from '../config/load.ts'
import type { RolloutConfig, StickyKey } from '../config/types.ts'
import type { RolloutCounts } from '../metrics/metrics.ts'
import { RolloutSplit, RolloutTally } from '../snapshot/rollout-split.ts'
import type { Snapshot } from '../snapshot/snapshot.ts'
import type { ReloadSource } from './reload.ts'

/** How a roll-out ended. */
export type RolloutEnd = 'promoted' | 'rolled_back' | 'aborted' | 'superseded'

export interface Counts {
  readonly requests: number
  readonly errors: number
}

/** One version's side of a roll-out, as GET /rollout and the history show it. */
export interface VersionCounts extends Counts {
  readonly version: string
  readonly error_rate: number
}

/** GET /rollout while a roll-out runs. */
export interface RolloutView {
  readonly state: 'running'
  readonly canary: VersionCounts
  readonly stable: VersionCounts
  readonly canary_percent: number
  readonly sticky: string | null
  readonly min_requests: number
  readonly max_error_rate: number
  readonly window_ms: number
  readonly started_at: string
  readonly ends_at: string
  readonly source: ReloadSource
}

/** The outcome of a roll-out that ended, as kept in the history and shown by GET /rollout. */
export interface RolloutResult {
  readonly outcome: RolloutEnd
  readonly reason: string
  readonly at: string
  readonly canary: VersionCounts
  readonly stable: VersionCounts
}

/** How often a worker sends its roll-out counts to the supervisor, which judges their sum. */
const ROLLOUT_REPORT_MS = 20

/** True when the canary is to be rolled back (see the module comment). */
export function breached(config: RolloutConfig, canary: Counts, stable: Counts): boolean {
  if (canary.requests < config.minRequests || canary.requests === 0) return false
  const canaryRate = canary.errors / canary.requests
  const stableRate = stable.requests === 0 ? 0 : stable.errors / stable.requests
  return canaryRate > config.maxErrorRate && canaryRate > stableRate
}

/** Why a breach rolls a canary back, with both rates (`scope`: e.g. " (all workers)"). */
export function breachReason(
  config: RolloutConfig,
  canary: Counts,
  stable: Counts,
  scope = '',
): string {
  const rate = (n: Counts): string => `${((n.errors / Math.max(1, n.requests)) * 100).toFixed(1)}%`
  return `canary 5xx rate ${rate(canary)} over ${canary.requests} requests${scope} is above max_error_rate ${(config.maxErrorRate * 100).toFixed(1)}% and the stable version's ${rate(stable)}`
}

export function versionCounts(version: string, counts: Counts): VersionCounts {
  const rate = counts.requests === 0 ? 0 : counts.errors / counts.requests
  return {
    version,
    requests: counts.requests,
    errors: counts.errors,
    error_rate: Math.round(rate * 10_000) / 10_000,
  }
}

export function stickyText(sticky: StickyKey | null): string | null {
  if (sticky === null) return null
  return sticky.kind === 'client-ip' ? 'client-ip' : `${sticky.kind}:${sticky.name}`
}

export class Rollout {
  readonly config: RolloutConfig
  readonly loaded: LoadedConfig
  readonly source: ReloadSource
  readonly split: RolloutSplit
  readonly startedAt = Date.now()
  readonly canaryTally: RolloutTally
  readonly stableTally: RolloutTally
  /** Counts summed over every worker, when the supervisor judges (see `report`). */
  #reported: RolloutCounts | null = null
  /** The window's end (judged here), or the reports to the supervisor (judged elsewhere). */
  #timer: NodeJS.Timeout | null = null

  constructor(init: {
    stable: Snapshot
    canary: Snapshot
    loaded: LoadedConfig
    source: ReloadSource
    random: () => number
    /**
     * A worker among several: its own counts go here every ROLLOUT_REPORT_MS while they change,
     * and the supervisor decides (no breach check, no window timer in this process).
     */
    report: ((canaryVersion: string, counts: RolloutCounts) => void) | null
    onBreach: () => void
    onWindowEnd: () => void
  }) {
    const config = init.loaded.config.rollout
    if (config === null) throw new TypeError('a roll-out needs a document with a rollout block')
    this.config = config
    this.loaded = init.loaded
    this.source = init.source
    const judge = init.report === null
    this.canaryTally = new RolloutTally(
      judge
        ? () => {
            if (breached(config, this.canaryTally, this.stableTally)) init.onBreach()
          }
        : noop,
    )
    this.stableTally = new RolloutTally(noop)
    init.canary.tally = this.canaryTally
    init.stable.tally = this.stableTally
    this.split = new RolloutSplit({
      stable: init.stable,
      canary: init.canary,
      canaryPercent: config.canaryPercent,
      sticky: config.sticky,
      random: init.random,
    })
    this.#timer =
      init.report === null
        ? setTimeout(init.onWindowEnd, config.windowMs)
        : this.#reportEvery(init.report)
    this.#timer.unref()
  }

  #reportEvery(report: (canaryVersion: string, counts: RolloutCounts) => void): NodeJS.Timeout {
    let sent = ''
    return setInterval(() => {
      const counts = this.localCounts
      const key = JSON.stringify(counts)
      if (key === sent) return
      sent = key
      report(this.canaryVersion, counts)
    }, ROLLOUT_REPORT_MS)
  }

  get canaryVersion(): string {
    return this.split.canary.version
  }

  get stableVersion(): string {
    return this.split.stable.version
  }

  /** This process's own counts (what it reports to a supervisor). */
  get localCounts(): RolloutCounts {
    return {
      canary: { requests: this.canaryTally.requests, errors: this.canaryTally.errors },
      stable: { requests: this.stableTally.requests, errors: this.stableTally.errors },
    }
  }

  /** The counts decisions are made on: every worker's when a supervisor sent them, else ours. */
  get counts(): RolloutCounts {
    return this.#reported ?? this.localCounts
  }

  /** The supervisor's sum of every worker's counts (shown by GET /rollout and metrics). */
  report(counts: RolloutCounts): void {
    this.#reported = counts
  }

  view(): RolloutView {
    const { canary, stable } = this.counts
    return {
      state: 'running',
      canary: versionCounts(this.canaryVersion, canary),
      stable: versionCounts(this.stableVersion, stable),
      canary_percent: this.config.canaryPercent,
      sticky: stickyText(this.config.sticky),
      min_requests: this.config.minRequests,
      max_error_rate: this.config.maxErrorRate,
      window_ms: this.config.windowMs,
      started_at: new Date(this.startedAt).toISOString(),
      ends_at: new Date(this.startedAt + this.config.windowMs).toISOString(),
      source: this.source,
    }
  }

  /** The end of this roll-out: no more counting, no timer. */
  stop(outcome: RolloutEnd, reason: string): RolloutResult {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    const view = this.view()
    this.canaryTally.close()
    this.stableTally.close()
    this.split.canary.tally = null
    this.split.stable.tally = null
    return {
      outcome,
      reason,
      at: new Date().toISOString(),
      canary: view.canary,
      stable: view.stable,
    }
  }
}

function noop(): void {}
