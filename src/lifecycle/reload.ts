/**
 * The apply pipeline (SPEC §4.2–§4.6): load → validate → build a snapshot → open new listeners
 * → swap one reference → retire the old snapshot. Every step that fails rejects the whole
 * document and the old snapshot keeps serving. Applies are serialised; a document identical to
 * the running one is a no-op. Keeps the history of the last 20 versions for GET
 * /config/history and POST /rollback.
 */
import type { LoadedConfig } from '../config/load.ts'
import type { GatewayConfig } from '../config/types.ts'
import { ErrorCode, GatewayError, type ConfigIssue } from '../errors.ts'
import type { Logger } from '../log/logger.ts'
import type { GatewayMetrics } from '../metrics/metrics.ts'
import type { SnapshotHolder } from '../snapshot/holder.ts'
import type { Snapshot } from '../snapshot/snapshot.ts'
import { collectWhenQuiet } from './idle-gc.ts'

/** What triggered an apply. */
export type ReloadSource = 'start' | 'file' | 'etcd' | 'signal' | 'admin' | 'api' | 'rollback'

export interface HistoryEntry {
  readonly version: string | null
  /** The etcd revision of the document (fleet mode), else null. */
  readonly revision: string | null
  /** ISO time of the attempt. */
  readonly time: string
  readonly source: ReloadSource
  readonly outcome: 'applied' | 'rejected'
  readonly errors: readonly ConfigIssue[]
}

export type ReloadResult =
  | { readonly outcome: 'applied'; readonly version: string; readonly previous: string | null }
  | { readonly outcome: 'unchanged'; readonly version: string }
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
  /** Right after the swap: what follows the config that now serves (health checks). */
  readonly onApplied?: (config: GatewayConfig) => void
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

  constructor(deps: ReloadDeps) {
    this.#deps = deps
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
    this.#deps.holder.swap(snapshot)
    this.#deps.onApplied?.(loaded.config)
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

  #record(loaded: LoadedConfig, source: ReloadSource): void {
    const time = new Date().toISOString()
    const revision = loaded.revision ?? null
    const entry: HistoryEntry = {
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
