/**
 * The apply pipeline (SPEC §4.2–§4.6): load → validate → build a snapshot → open new listeners
 * → swap one reference → retire the old snapshot. Every step that fails rejects the whole
 * document and the old snapshot keeps serving. Applies are serialised; a document identical to
 * the running one is a no-op. Keeps the history of the last 20 versions for GET
 * /config/history and POST /rollback.
 */
import type { LoadedConfig } from '../config/load.ts'
import type { GatewayConfig, UpstreamConfig } from '../config/types.ts'
import { ConfigError, ErrorCode, GatewayError, type ConfigIssue } from '../errors.ts'
import type { Logger } from '../log/logger.ts'
import type { GatewayMetrics, RolloutCounts } from '../metrics/metrics.ts'
import type { SnapshotHolder } from '../snapshot/holder.ts'
import type { Snapshot } from '../snapshot/snapshot.ts'
import { collectWhenQuiet } from './idle-gc.ts'
import {
  Rollout,
  breachReason,
  type RolloutEnd,
  type RolloutResult,
  type RolloutView,
} from './rollout.ts'

/** What triggered an apply. */
export type ReloadSource = 'start' | 'file' | 'etcd' | 'signal' | 'admin' | 'api' | 'rollback'

export interface HistoryEntry {
  readonly version: string | null
  /** The etcd revision of the document (fleet mode), else null. */
  readonly revision: string | null
  /** ISO time of the attempt. */
  readonly time: string
  readonly source: ReloadSource
  /**
   * `applied`/`rejected`; for a staged roll-out (SPEC §4.4) `canary` when a version starts as
   * the canary, then how that roll-out ended (`promoted`, `rolled_back`, `aborted`, or
   * `superseded` by a document without a `rollout` block).
   */
  readonly outcome: 'applied' | 'rejected' | 'canary' | RolloutEnd
  readonly errors: readonly ConfigIssue[]
  /** How a roll-out ended: why, when, and both versions' counts and 5xx rates. */
  readonly rollout?: RolloutResult
}

export type ReloadResult =
  | { readonly outcome: 'applied'; readonly version: string; readonly previous: string | null }
  | { readonly outcome: 'unchanged'; readonly version: string }
  | { readonly outcome: 'canary'; readonly version: string; readonly stable: string }
  | { readonly outcome: 'rejected'; readonly errors: readonly ConfigIssue[] }

/** The config being served, as GET /config shows it. */
export interface CurrentConfig {
  readonly version: string
  /** The etcd revision of the document (fleet mode), else null. */
  readonly revision: string | null
  readonly source: ReloadSource
  readonly loadedAt: string
  readonly document: unknown
}

export interface ReloadDeps {
  readonly holder: SnapshotHolder
  readonly metrics: GatewayMetrics
  readonly logger: Logger
  /** Compiles a snapshot (throws only on a bug; leases are released on a throw). */
  readonly build: (config: GatewayConfig, version: string) => Snapshot
  /**
   * After the build, before anything else: waits (bounded) for what the snapshot needs before it
   * can serve well, such as the first answer of a new discovery source. Never rejects.
   */
  readonly prepare?: (snapshot: Snapshot) => Promise<void>
  /** Opens listeners new in `config` before the swap; throws if one cannot bind. */
  readonly openListeners: (config: GatewayConfig) => Promise<void>
  /**
   * Right after the swap: what follows the upstreams that now serve (health checks). During a
   * roll-out, the stable version's upstreams plus the ones only the canary has.
   */
  readonly onApplied?: (upstreams: readonly UpstreamConfig[]) => void
  /** Balancing randomness, also used to assign requests during a roll-out. */
  readonly random?: () => number
  /**
   * A worker among several: where its roll-out counts go. The supervisor sums every worker's,
   * judges the sum and sends the decision back; without this, this process judges.
   */
  readonly reportRollout?: (canaryVersion: string, counts: RolloutCounts) => void
  /** Where the running config's source is: `configPath` or `inline`, for logs and metrics. */
  readonly sourceName: string
}

/** How many versions the history keeps (SPEC §4.6). */
export const HISTORY_SIZE = 20

interface Kept {
  readonly loaded: LoadedConfig
  readonly entry: HistoryEntry
}

export class ReloadController {
  readonly #deps: ReloadDeps
  #chain: Promise<unknown> = Promise.resolve()
  #history: HistoryEntry[] = []
  /** Applied versions still in the history, for rollback. */
  #kept = new Map<string, Kept>()
  #current: CurrentConfig | null = null
  #rollout: Rollout | null = null
  /** How the last roll-out ended (GET /rollout shows it once none runs). */
  #lastRollout: RolloutResult | null = null
  /**
   * The version of the last canary rolled back: not applied again by a file change, a signal or
   * etcd until another version has been applied (POST /rollback may still ask for it).
   */
  #rolledBack: string | null = null

  constructor(deps: ReloadDeps) {
    this.#deps = deps
    deps.metrics.setRolloutSource(() => this.#rollout?.counts ?? null)
  }

  /** A stop: a running roll-out's timer goes, with no decision (the gateway closes). */
  close(): void {
    this.#rollout?.stop('aborted', 'the gateway stopped')
    this.#rollout = null
  }

  /** The version of the last canary rolled back (not applied again by a re-read), or null. */
  get rolledBack(): string | null {
    return this.#rolledBack
  }

  /** Carries a rolled-back version over from the process this one replaced (hot upgrade). */
  markRolledBack(version: string | null): void {
    this.#rolledBack = version
  }

  /** The running roll-out (null when none runs). */
  get rollout(): Rollout | null {
    return this.#rollout
  }

  /** GET /rollout: the running roll-out, or none and how the last one ended. */
  rolloutView(): RolloutView | { readonly state: 'none'; readonly last: RolloutResult | null } {
    return this.#rollout?.view() ?? { state: 'none', last: this.#lastRollout }
  }

  /**
   * Ends the running roll-out by hand (POST /rollout/promote, /rollout/abort) or by the
   * supervisor's decision. `version`, when given, must be the running canary's (a decision about
   * an older canary is stale). Null when no roll-out runs (or it is another one).
   */
  endRollout(
    outcome: 'promoted' | 'rolled_back' | 'aborted',
    reason: string,
    version?: string,
  ): RolloutResult | null {
    const rollout = this.#rollout
    if (rollout === null || (version !== undefined && version !== rollout.canaryVersion)) {
      return null
    }
    return this.#endRollout(rollout, outcome, reason)
  }

  get current(): CurrentConfig | null {
    return this.#current
  }

  /** The last HISTORY_SIZE attempts, newest first. */
  get history(): readonly HistoryEntry[] {
    return this.#history
  }

  /**
   * Loads with `load` and applies the result, after any apply already under way. `revision`
   * names the etcd revision of the document (fleet mode), for the history of a load that fails. Never rejects
   * for a bad document: the outcome says what happened (and is logged, counted and recorded).
   * Rejects only when `load` throws something that is not a config error, or at start.
   */
  async apply(
    load: () => Promise<LoadedConfig> | LoadedConfig,
    source: ReloadSource,
    revision: string | null = null,
  ): Promise<ReloadResult> {
    const run = this.#chain.then(() => this.#applyNow(load, source, revision))
    this.#chain = run.catch(() => undefined)
    return run
  }

  /**
   * Resolves once every apply asked for so far has finished (a graceful stop waits for one under
   * way, so that the listeners it opens are drained with the others, not left open).
   */
  settled(): Promise<void> {
    return this.#chain.then(() => undefined)
  }

  /** Re-applies the document of an earlier applied version still in the history. */
  async rollback(version: string): Promise<ReloadResult | null> {
    const kept = this.#kept.get(version)
    if (kept === undefined) return null
    return this.apply(() => kept.loaded, 'rollback')
  }

  async #applyNow(
    load: () => Promise<LoadedConfig> | LoadedConfig,
    source: ReloadSource,
    revision: string | null,
  ): Promise<ReloadResult> {
    const started = performance.now()
    let loaded: LoadedConfig
    try {
      loaded = await load()
    } catch (err) {
      return this.#reject(err, source, null, revision)
    }
    const rollout = this.#rollout
    if (rollout !== null) {
      if (loaded.version === rollout.canaryVersion) {
        this.#deps.logger.info(
          { config_version: loaded.version, source },
          'config unchanged: this version is the running canary',
        )
        return { outcome: 'unchanged', version: loaded.version }
      }
      if (loaded.version === rollout.stableVersion) {
        // The stable document again (a reverted file): the canary goes.
        this.#endRollout(rollout, 'aborted', `the stable version was applied again (${source})`)
        return { outcome: 'unchanged', version: loaded.version }
      }
    }
    if (loaded.version === this.#rolledBack && source !== 'rollback') {
      const message = `version ${loaded.version} was rolled back as a failing canary: it is not applied again until the document changes (POST /rollback {"version": "${loaded.version}"} retries it)`
      return this.#reject(
        new ConfigError(this.#deps.sourceName, [{ path: '', line: null, column: null, message }]),
        source,
        loaded.version,
        loaded.revision,
      )
    }
    const stable = this.#deps.holder.current
    // (A document with a rollout block that is the running one is unchanged, as any other.)
    if (
      loaded.config.rollout !== null &&
      stable !== null &&
      source !== 'start' &&
      loaded.version !== stable.version
    ) {
      return this.#startCanary(loaded, source, started)
    }
    return this.#applyLoaded(loaded, source, started)
  }

  async #applyLoaded(
    loaded: LoadedConfig,
    source: ReloadSource,
    started: number,
  ): Promise<ReloadResult> {
    const previous = this.#current?.version ?? null
    if (loaded.version === previous) {
      this.#deps.logger.info(
        { config_version: previous, source },
        'config unchanged: nothing to apply',
      )
      return { outcome: 'unchanged', version: loaded.version }
    }
    let snapshot: Snapshot
    try {
      snapshot = this.#deps.build(loaded.config, loaded.version)
    } catch (err) {
      return this.#reject(err, source, loaded.version, loaded.revision)
    }
    await this.#deps.prepare?.(snapshot)
    try {
      await this.#deps.openListeners(loaded.config)
    } catch (err) {
      // Never served: retiring it with no request pinned releases its leases at once.
      snapshot.retire()
      return this.#reject(err, source, loaded.version, loaded.revision)
    }
    // A document without a `rollout` block during a roll-out serves everything at once.
    const rollout = this.#rollout
    if (rollout !== null) {
      this.#endRollout(rollout, 'superseded', `version ${loaded.version} was applied (${source})`)
    }
    this.#deps.holder.swap(snapshot)
    this.#deps.onApplied?.(loaded.config.upstreams)
    this.#rolledBack = null
    this.#record(loaded, source)
    this.#deps.metrics.configReloads.inc({ result: 'success' })
    this.#deps.metrics.setConfigVersion(
      loaded.version,
      this.#deps.sourceName,
      loaded.revision ?? '',
    )
    this.#deps.logger.info(
      {
        config_version: loaded.version,
        ...(loaded.revision === undefined ? {} : { etcd_revision: loaded.revision }),
        previous_version: previous,
        source,
        apply_ms: Math.round((performance.now() - started) * 100) / 100,
      },
      'config applied',
    )
    collectWhenQuiet()
    return { outcome: 'applied', version: loaded.version, previous }
  }

  /**
   * A document with a `rollout` block while a version serves: built like any other, then run as
   * the canary beside the stable snapshot (replacing a canary already running). Its listeners,
   * admin API and limits must be the stable version's: a socket cannot be split per request.
   */
  async #startCanary(
    loaded: LoadedConfig,
    source: ReloadSource,
    started: number,
  ): Promise<ReloadResult> {
    const first = this.#deps.holder.current
    const changed = first === null ? [] : processWideChanges(first.config, loaded.config)
    if (changed.length > 0) {
      const message = `a staged roll-out cannot change ${changed.join(', ')} (they are not split per request): apply that change in a document without a rollout block`
      const error = new ConfigError(this.#deps.sourceName, [
        { path: 'rollout', line: null, column: null, message },
      ])
      return this.#reject(error, source, loaded.version, loaded.revision)
    }
    let canary: Snapshot
    try {
      canary = this.#deps.build(loaded.config, loaded.version)
    } catch (err) {
      return this.#reject(err, source, loaded.version, loaded.revision)
    }
    await this.#deps.prepare?.(canary)
    // Read again after the wait: a roll-out may have ended meanwhile.
    const stable = this.#deps.holder.current
    if (stable === null) {
      canary.retire()
      return this.#reject(new Error('the gateway stopped'), source, loaded.version)
    }
    const replaced = this.#rollout
    if (replaced !== null) {
      this.#endRollout(replaced, 'superseded', `canary ${loaded.version} replaced it (${source})`)
    }
    const rollout = this.#newRollout(stable, canary, loaded, source)
    this.#rollout = rollout
    this.#rolledBack = null
    this.#deps.holder.split(rollout.split)
    const stableNames = new Set(stable.config.upstreams.map((u) => u.name))
    this.#deps.onApplied?.([
      ...stable.config.upstreams,
      ...loaded.config.upstreams.filter((u) => !stableNames.has(u.name)),
    ])
    const entry: HistoryEntry = {
      version: loaded.version,
      revision: loaded.revision ?? null,
      time: new Date(rollout.startedAt).toISOString(),
      source,
      outcome: 'canary',
      errors: [],
    }
    this.#push(entry)
    this.#kept.set(loaded.version, { loaded, entry })
    this.#deps.metrics.rolloutEvents.inc({ event: 'started' })
    this.#deps.logger.info(
      {
        canary_version: loaded.version,
        stable_version: stable.version,
        ...(loaded.revision === undefined ? {} : { etcd_revision: loaded.revision }),
        canary_percent: rollout.config.canaryPercent,
        window_ms: rollout.config.windowMs,
        sticky: rollout.view().sticky,
        source,
        apply_ms: Math.round((performance.now() - started) * 100) / 100,
      },
      `roll-out started: canary ${loaded.version} takes ${rollout.config.canaryPercent}% beside stable ${stable.version}`,
    )
    return { outcome: 'canary', version: loaded.version, stable: stable.version }
  }

  #newRollout(
    stable: Snapshot,
    canary: Snapshot,
    loaded: LoadedConfig,
    source: ReloadSource,
  ): Rollout {
    const rollout: Rollout = new Rollout({
      stable,
      canary,
      loaded,
      source,
      random: this.#deps.random ?? Math.random,
      report: this.#deps.reportRollout ?? null,
      onBreach: () => {
        const { canary: c, stable: s } = rollout.counts
        this.#endRollout(rollout, 'rolled_back', breachReason(rollout.config, c, s))
      },
      onWindowEnd: () => this.#endRollout(rollout, 'promoted', 'the window ended clean'),
    })
    return rollout
  }

  /** Ends `rollout` (if still the running one): the split goes, then log, metrics, history. */
  #endRollout(rollout: Rollout, outcome: RolloutEnd, reason: string): RolloutResult | null {
    if (this.#rollout !== rollout) return null
    this.#rollout = null
    const result = rollout.stop(outcome, reason)
    this.#lastRollout = result
    const promoted = outcome === 'promoted'
    // `superseded`: the caller swaps in the next version (or canary) right after.
    this.#deps.holder.endSplit(promoted)
    if (outcome !== 'superseded') {
      const serving = promoted ? rollout.loaded.config : rollout.split.stable.config
      this.#deps.onApplied?.(serving.upstreams)
    }
    if (outcome === 'rolled_back') this.#rolledBack = rollout.canaryVersion
    const entry: HistoryEntry = {
      version: rollout.canaryVersion,
      revision: rollout.loaded.revision ?? null,
      time: result.at,
      source: rollout.source,
      outcome,
      errors: [],
      rollout: result,
    }
    if (promoted) {
      this.#record(rollout.loaded, rollout.source, entry)
      this.#deps.metrics.configReloads.inc({ result: 'success' })
      this.#deps.metrics.setConfigVersion(
        rollout.canaryVersion,
        this.#deps.sourceName,
        rollout.loaded.revision ?? '',
      )
      collectWhenQuiet()
    } else this.#push(entry)
    this.#deps.metrics.rolloutEvents.inc({ event: outcome })
    const fields = {
      canary_version: rollout.canaryVersion,
      stable_version: rollout.stableVersion,
      canary: result.canary,
      stable: result.stable,
      reason,
    }
    const message = {
      promoted: `roll-out promoted: ${rollout.canaryVersion} now serves all traffic`,
      rolled_back: `roll-out rolled back: ${rollout.stableVersion} serves all traffic again`,
      aborted: `roll-out aborted: ${rollout.stableVersion} serves all traffic again`,
      superseded: `roll-out superseded: canary ${rollout.canaryVersion} dropped`,
    }[outcome]
    if (outcome === 'rolled_back') this.#deps.logger.error(fields, message)
    else this.#deps.logger.info(fields, message)
    return result
  }

  #record(loaded: LoadedConfig, source: ReloadSource, promotion?: HistoryEntry): void {
    const time = new Date().toISOString()
    const revision = loaded.revision ?? null
    const entry: HistoryEntry = promotion ?? {
      version: loaded.version,
      revision,
      time,
      source,
      outcome: 'applied',
      errors: [],
    }
    this.#push(entry)
    this.#kept.set(loaded.version, { loaded, entry })
    this.#current = {
      version: loaded.version,
      revision,
      source,
      loadedAt: time,
      document: loaded.document,
    }
  }

  #reject(
    err: unknown,
    source: ReloadSource,
    version: string | null,
    revision: string | null = null,
  ): ReloadResult {
    // At start there is nothing to keep serving: the caller (the CLI) reports and exits.
    if (source === 'start') throw err
    const errors = issuesOf(err)
    const entry: HistoryEntry = {
      version,
      revision,
      time: new Date().toISOString(),
      source,
      outcome: 'rejected',
      errors,
    }
    this.#push(entry)
    this.#deps.metrics.configReloads.inc({ result: 'failure' })
    this.#deps.logger.error(
      {
        config_version: this.#current?.version ?? null,
        rejected_version: version,
        ...(revision === null ? {} : { etcd_revision: revision }),
        source,
        errors,
      },
      `config rejected, still serving ${this.#current?.version ?? 'nothing'}: ${errors
        .map(
          (e) =>
            `${e.path === '' ? '(document)' : e.path}${e.line === null ? '' : ` (${e.line}:${e.column ?? 0})`}: ${e.message}`,
        )
        .join('; ')}`,
    )
    return { outcome: 'rejected', errors }
  }

  #push(entry: HistoryEntry): void {
    this.#history.unshift(entry)
    const dropped = this.#history.splice(HISTORY_SIZE)
    for (const old of dropped) {
      if (old.version === null) continue
      const kept = this.#kept.get(old.version)
      // A version applied again later has a newer entry; only forget it with its last one.
      if (kept?.entry === old) this.#kept.delete(old.version)
    }
  }
}

/** What a staged roll-out cannot change, since it is bound to sockets, not requests. */
function processWideChanges(stable: GatewayConfig, canary: GatewayConfig): string[] {
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)
  const changed: string[] = []
  if (!same(stable.listeners, canary.listeners)) changed.push('listeners')
  if (!same(stable.admin, canary.admin)) changed.push('admin')
  if (!same(stable.limits, canary.limits)) changed.push('limits')
  return changed
}

/** The issues of a ConfigError, or one issue describing any other failure. */
function issuesOf(err: unknown): ConfigIssue[] {
  const issues = (err as { issues?: unknown } | null)?.issues
  if (Array.isArray(issues)) return issues as ConfigIssue[]
  const message = err instanceof GatewayError || err instanceof Error ? err.message : String(err)
  const code = (err as { code?: unknown } | null)?.code
  return [
    {
      path: '',
      line: null,
      column: null,
      message: code === ErrorCode.LISTEN_FAILED ? message : `could not apply: ${message}`,
    },
  ]
}
