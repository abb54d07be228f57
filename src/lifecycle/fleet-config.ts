/**
 * Fleet mode's config (SPEC §7): the document of one etcd key, followed by a watch, every new
 * revision applied through the reload pipeline (source `etcd`, its revision in the history).
 * At start it applies the first revision that loads and serves; until then it says, once per
 * reason, why it is waiting (no key yet, an invalid document, etcd unreachable) and keeps
 * waiting, and `close()` ends the wait. While serving, an outage is logged once, and so is the
 * recovery; a deleted key is logged and the last document keeps serving.
 */
import { ConfigReadError, loadConfig, type LoadedConfig } from '../config/load.ts'
import { EtcdConfigSource, type EtcdDocument } from '../config/sources/etcd.ts'
import type { Env } from '../config/interpolate.ts'
import type { EtcdClients } from '../etcd/client.ts'
import { ConfigError, ErrorCode, GatewayError } from '../errors.ts'
import type { Logger } from '../log/logger.ts'
import type { ReloadController } from './reload.ts'

/** Where fleet mode reads the config. */
export interface EtcdSourceOptions {
  readonly endpoints: readonly string[]
  readonly key: string
}

export interface FleetConfigDeps {
  readonly etcd: EtcdSourceOptions
  readonly clients: EtcdClients
  readonly reloads: ReloadController
  readonly logger: Logger
  readonly env: Env
  /** How errors and history name the source (`etcd:KEY`). */
  readonly sourceName: string
  /** The version being served, for log lines. */
  readonly configVersion: () => string | null
  /** False once the gateway is stopping: no revision is applied any more. */
  readonly accepting: () => boolean
  /** After a revision was applied (the admin listener follows the new config). */
  readonly afterApplied: () => Promise<void>
}

export class FleetConfig {
  readonly #deps: FleetConfigDeps
  #source: EtcdConfigSource | null = null
  #stopWaiting: (() => void) | null = null

  constructor(deps: FleetConfigDeps) {
    this.#deps = deps
  }

  /** Follows the key; resolves once a first revision serves, rejects if closed before. */
  start(): Promise<void> {
    const { etcd, logger, reloads } = this.#deps
    const where = `etcd key ${etcd.key} (${etcd.endpoints.join(',')})`
    let started = false
    let lastReason = ''
    let trouble = false
    const version = (): string => this.#deps.configVersion() ?? ''
    return new Promise<void>((resolve, reject) => {
      const waiting = (reason: string, fields: object = {}): void => {
        if (reason === lastReason) return
        lastReason = reason
        logger.warn(
          { etcd_key: etcd.key, reason, ...fields },
          `no usable config document at ${where} yet: waiting for one (${reason})`,
        )
      }
      this.#stopWaiting = () => {
        if (!started)
          reject(new GatewayError(ErrorCode.INTERNAL, `stopped while waiting for ${where}`))
      }
      logger.info({ etcd_key: etcd.key, endpoints: etcd.endpoints }, `reading ${where}`)
      this.#source = new EtcdConfigSource({
        lease: this.#deps.clients.acquire(etcd.endpoints),
        key: etcd.key,
        onDocument: async (doc) => {
          if (started) return this.#applyRevision(doc)
          try {
            await reloads.apply(() => this.load(doc), 'start')
          } catch (err) {
            const errors = (err as { issues?: unknown }).issues ?? [(err as Error).message]
            waiting(`revision ${doc.revision} is not usable`, { errors })
            return
          }
          started = true
          this.#stopWaiting = null
          resolve()
        },
        onMissing: (deleted) => {
          if (!started) waiting('the key does not exist')
          else if (deleted) {
            logger.warn(
              { etcd_key: etcd.key, config_version: this.#deps.configVersion() },
              `the config key was deleted from etcd: still serving ${version()}`,
            )
          }
        },
        onProblem: (problem) => {
          if (!started) waiting(problem)
          else if (!trouble) {
            // Once per outage: the client retries with a back-off and says so each time.
            trouble = true
            logger.warn(
              { etcd_key: etcd.key, problem, config_version: this.#deps.configVersion() },
              `etcd problem: still serving ${version()}, retrying`,
            )
          }
        },
        onConnected: () => {
          if (trouble) logger.info({ etcd_key: etcd.key }, 'etcd watch connected again')
          trouble = false
        },
      })
    })
  }

  /** One revision, loaded (`${VAR}` from this machine's environment). */
  load(doc: EtcdDocument): LoadedConfig {
    const { sourceName, env } = this.#deps
    const loaded = loadConfig(doc.text, { source: sourceName, env, etcdCluster: true })
    return { ...loaded, revision: doc.revision }
  }

  /** SIGHUP or a bodiless POST /reload: the key as etcd holds it now, loaded. */
  async loadCurrent(): Promise<LoadedConfig> {
    const { sourceName } = this.#deps
    let doc: EtcdDocument | null = null
    try {
      doc = this.#source === null ? null : await this.#source.fetch()
    } catch (err) {
      throw new ConfigReadError(sourceName, err)
    }
    if (doc === null) {
      const message = 'the etcd key holds no document'
      throw new ConfigError(sourceName, [{ path: '', line: null, column: null, message }])
    }
    return this.load(doc)
  }

  /** Stops following the key; a start still waiting rejects. Idempotent. */
  close(): void {
    this.#source?.close()
    this.#source = null
    const stop = this.#stopWaiting
    this.#stopWaiting = null
    stop?.()
  }

  /** A new revision while serving: through the usual pipeline. */
  async #applyRevision(doc: EtcdDocument): Promise<void> {
    if (!this.#deps.accepting()) return
    const result = await this.#deps.reloads.apply(() => this.load(doc), 'etcd', doc.revision)
    if (result.outcome === 'applied') await this.#deps.afterApplied()
  }
}
