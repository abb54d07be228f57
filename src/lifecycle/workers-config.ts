/**
 * What the supervisor of `--workers N` knows of the versions its workers run: the one that
 * serves (a new or replaced worker starts on its document), the documents of recent versions (a
 * rollback names a version, a promotion makes the canary's document current) and the canary it
 * judges (workers-rollout.ts). `settle` reads the workers' results of an apply or a rollback.
 */
import { loadConfig } from '../config/load.ts'
import type { Logger } from '../log/logger.ts'
import type { RolloutCounts } from '../metrics/metrics.ts'
import { HISTORY_SIZE, type ReloadResult, type ReloadSource } from './reload.ts'
import type { RolloutEnd, RolloutResult } from './rollout.ts'
import { WorkersRollout } from './workers-rollout.ts'

export interface WorkersConfigDeps {
  readonly path: string
  readonly initial: { readonly text: string; readonly version: string }
  readonly logger: Logger
  readonly env: NodeJS.ProcessEnv
  /** Tells every worker a decision about canary `version`; each worker's result. */
  readonly decide: (
    version: string,
    outcome: Exclude<RolloutEnd, 'superseded'>,
    reason: string,
  ) => Promise<(RolloutResult | null)[]>
  readonly share: (version: string, counts: RolloutCounts) => void
}

export class WorkersConfig {
  readonly rollout: WorkersRollout
  readonly #deps: WorkersConfigDeps
  #current: { text: string; path: string; version: string }
  /** version → document, the last HISTORY_SIZE seen. */
  readonly #texts = new Map<string, string>()
  #canarySource: ReloadSource = 'admin'

  constructor(deps: WorkersConfigDeps) {
    this.#deps = deps
    this.#current = { ...deps.initial, path: deps.path }
    this.#remember(deps.initial.version, deps.initial.text)
    this.rollout = new WorkersRollout({
      logger: deps.logger,
      decide: async (version, outcome, reason) => {
        // Every worker ended the same canary; the first one's result stands for all. None: they
        // no longer ran it (a new document superseded it meanwhile), and nothing changes here.
        const result = (await deps.decide(version, outcome, reason)).find((r) => r !== null)
        const text = this.#texts.get(version)
        if (outcome === 'promoted' && result !== undefined && text !== undefined) {
          this.#current = { text, path: deps.path, version }
        }
        return result ?? null
      },
      share: deps.share,
    })
  }

  /** The document every worker serves (a new worker starts on it). */
  get current(): { readonly text: string; readonly path: string; readonly version: string } {
    return this.#current
  }

  /**
   * The canary the workers run, for a worker started meanwhile to join it (so that it follows
   * the decision too); null when none runs.
   */
  get canary(): { readonly text: string; readonly source: ReloadSource } | null {
    const version = this.rollout.canaryVersion
    const text = version === null ? undefined : this.#texts.get(version)
    return text === undefined ? null : { text, source: this.#canarySource }
  }

  /** The document of a recent version, if kept. */
  textOf(version: string): string | undefined {
    return this.#texts.get(version)
  }

  /**
   * The workers' results of applying `doc` (or, for a rollback, a version whose document is
   * looked up): the first result, which stands for all when they agree.
   */
  settle(results: readonly ReloadResult[], source: ReloadSource, doc?: string): ReloadResult {
    const { logger } = this.#deps
    const first: ReloadResult = results[0] ?? { outcome: 'rejected', errors: [] }
    const versions = new Set(results.map((r) => (r.outcome === 'rejected' ? null : r.version)))
    if (versions.size > 1) {
      logger.error({ versions: [...versions], source }, 'workers disagree on the config version')
      // A canary that only some workers run would be judged by nobody: it goes.
      for (const r of results) {
        if (r.outcome === 'canary') {
          void this.#deps.decide(r.version, 'aborted', 'the workers disagree on this document')
        }
      }
      return first
    }
    if (first.outcome === 'rejected') return first
    const text = doc ?? this.#texts.get(first.version)
    if (text !== undefined) this.#remember(first.version, text)
    if (first.outcome === 'canary') {
      this.#judge(first.version, text, source)
      return first
    }
    if (first.version === this.rollout.canaryVersion) {
      logger.info({ canary_version: first.version, source }, 'workers already run this canary')
      return first
    }
    // A document without a rollout block, or the stable one again: a canary is gone.
    this.rollout.stop()
    if (first.version === this.#current.version) {
      logger.info({ config_version: first.version, source }, 'workers already serve this version')
    } else if (text === undefined) {
      logger.error({ config_version: first.version, source }, 'no document kept for this version')
    } else {
      this.#current = { text, path: this.#deps.path, version: first.version }
      logger.info(
        { config_version: first.version, workers: results.length, source },
        'workers serve a new version',
      )
    }
    return first
  }

  #judge(version: string, text: string | undefined, source: ReloadSource): void {
    const { logger, path, env } = this.#deps
    const config =
      text === undefined ? null : loadConfig(text, { source: path, env }).config.rollout
    if (config === null) {
      // Every document goes through the supervisor, so this is a bug: end the canary safely.
      logger.error({ canary_version: version }, 'no document kept for this canary: aborting it')
      void this.#deps.decide(version, 'aborted', 'the supervisor has no document for it')
      return
    }
    this.rollout.start(version, config)
    this.#canarySource = source
    logger.info(
      { canary_version: version, stable_version: this.#current.version, source },
      'workers run a canary: the supervisor judges their summed counts',
    )
  }

  #remember(version: string, text: string): void {
    this.#texts.delete(version)
    this.#texts.set(version, text)
    if (this.#texts.size > HISTORY_SIZE) {
      const oldest = this.#texts.keys().next().value
      if (oldest !== undefined) this.#texts.delete(oldest)
    }
  }
}
