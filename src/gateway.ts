/**
 * createGateway(): composes the subsystems (config → snapshot → listeners, admin, metrics,
 * logging) and owns start and graceful close. The CLI is a thin layer over this; the library
 * API (SPEC §8) is this same object.
 */
import type http from 'node:http'
import { readFile } from 'node:fs/promises'
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import { createAdminHandler, openAdminServer } from './admin/admin-server.ts'
import { loadConfig, loadConfigFile } from './config/load.ts'
import type { GatewayConfig, ListenerConfig } from './config/types.ts'
import { ConfigError, ErrorCode, GatewayError } from './errors.ts'
import { drainListeners } from './lifecycle/drain.ts'
import { createLogger, type LogFormat, type LogLevel, type Logger } from './log/logger.ts'
import { GatewayMetrics } from './metrics/metrics.ts'
import { createClientErrorHandler } from './proxy/client-error.ts'
import { createRequestHandler, type ProxyDeps } from './proxy/handle-request.ts'
import { createUpgradeHandler, type TunnelRegistry } from './proxy/tunnel.ts'
import { ConnectionTracker } from './server/connection-tracker.ts'
import { openListener, type Listener } from './server/listeners.ts'
import { buildSnapshot } from './snapshot/build.ts'
import { SnapshotHolder } from './snapshot/holder.ts'
import { UpstreamRegistry } from './upstream/registry.ts'

/** Idle time before a client keep-alive connection is closed (nginx uses 75 s). */
const CLIENT_KEEPALIVE_MS = 60_000

export type Env = Readonly<Record<string, string | undefined>>

export interface GatewayOptions {
  /** Path of a YAML or JSON config file. */
  readonly configPath?: string
  /** A config document given directly (the same shape as the file), instead of `configPath`. */
  readonly config?: unknown
  /** Environment for `${VAR}` interpolation and `admin.token_env`; defaults to process.env. */
  readonly env?: Env
  /** A logger to use; else one is created from `logLevel` and `logFormat`. */
  readonly logger?: Logger
  readonly logLevel?: LogLevel
  readonly logFormat?: LogFormat
  /** Random source for balancers and splits (tests inject a seeded one). */
  readonly random?: () => number
}

/** Where a started gateway listens (ports resolved when 0 was asked). */
export interface GatewayAddresses {
  readonly listeners: readonly { readonly name: string; readonly address: string }[]
  readonly admin: string | null
}

/** A hitless gateway: `start()`, then `close()` for a graceful stop. */
export class Gateway {
  readonly logger: Logger
  readonly metrics = new GatewayMetrics()
  readonly #options: GatewayOptions
  readonly #env: Env
  readonly #registry = new UpstreamRegistry()
  readonly #holder = new SnapshotHolder()
  readonly #tracker = new ConnectionTracker()
  readonly #tunnels = new Set<Duplex>()
  #listeners: Listener[] = []
  #admin: http.Server | null = null
  #draining = false
  #closing: Promise<void> | null = null

  constructor(options: GatewayOptions) {
    if ((options.configPath === undefined) === (options.config === undefined)) {
      throw new GatewayError(
        ErrorCode.INTERNAL,
        'createGateway needs exactly one of configPath, config',
      )
    }
    this.#options = options
    this.#env = options.env ?? process.env
    this.logger =
      options.logger ??
      createLogger({ level: options.logLevel ?? 'info', format: options.logFormat ?? 'json' })
    this.metrics.setOpenConnectionsSource(() => this.#tracker.size)
  }

  /** True while the gateway serves and is not draining (GET /readyz). */
  get ready(): boolean {
    return this.#holder.current !== null && !this.#draining
  }

  /** The version id of the config being served, or null before start. */
  get configVersion(): string | null {
    return this.#holder.current?.version ?? null
  }

  get addresses(): GatewayAddresses {
    const admin = this.#admin?.address()
    return {
      listeners: this.#listeners.map((l) => ({ name: l.name, address: l.url })),
      admin:
        admin === undefined || admin === null
          ? null
          : typeof admin === 'string'
            ? `unix:${admin}`
            : `${admin.family === 'IPv6' ? `[${admin.address}]` : admin.address}:${admin.port}`,
    }
  }

  /**
   * Loads the config, builds the first snapshot and opens every listener.
   * Rejects with a ConfigError (every issue listed) or a GatewayError naming the listener.
   */
  async start(): Promise<void> {
    const { config, version } = await this.#load()
    const snapshot = buildSnapshot(config, version, {
      registry: this.#registry,
      metrics: this.metrics,
      logger: this.logger,
      ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
    })
    this.#holder.swap(snapshot)
    this.metrics.setConfigVersion(version, this.#source())
    try {
      for (const listener of config.listeners) {
        this.#listeners.push(await this.#openListener(listener, config))
      }
      await this.#openAdmin(config)
    } catch (err) {
      await this.#closeNow()
      throw err
    }
    this.logger.info(
      { config_version: version, ...this.addresses },
      `hitless serving on ${this.#listeners.map((l) => l.url).join(', ')}`,
    )
  }

  /**
   * Graceful stop: readiness turns 503, listeners stop accepting, idle connections close,
   * in-flight requests finish (cut at `drain_timeout`). Safe to call more than once.
   */
  async close(): Promise<void> {
    this.#closing ??= this.#drainAndClose()
    return this.#closing
  }

  async #drainAndClose(): Promise<void> {
    this.#draining = true
    const timeoutMs = this.#holder.current?.config.drainTimeoutMs ?? 0
    this.logger.info({ drain_timeout_ms: timeoutMs }, 'draining')
    const { cut } = await drainListeners({
      listeners: this.#listeners,
      tracker: this.#tracker,
      timeoutMs,
      logger: this.logger,
    })
    await this.#closeNow()
    this.logger.info({ cut }, 'stopped')
  }

  /** Closes everything without waiting for requests (start failure, second signal). */
  async #closeNow(): Promise<void> {
    for (const listener of this.#listeners) listener.stopAccepting()
    this.#tracker.destroyAll()
    for (const tunnel of this.#tunnels) tunnel.destroy()
    const admin = this.#admin
    this.#admin = null
    if (admin !== null) {
      admin.closeAllConnections()
      await new Promise<void>((resolve) => admin.close(() => resolve()))
    }
    this.#holder.clear()
    await this.#registry.destroy()
  }

  async #load(): Promise<{ config: GatewayConfig; version: string }> {
    const { configPath, config } = this.#options
    if (configPath !== undefined) return loadConfigFile(configPath, this.#env)
    const text = typeof config === 'string' ? config : JSON.stringify(config)
    return loadConfig(text, {
      source: 'inline',
      format: typeof config === 'string' ? 'yaml' : 'json',
      env: this.#env,
    })
  }

  #source(): string {
    return this.#options.configPath ?? 'inline'
  }

  #proxyDeps(): ProxyDeps {
    return {
      holder: this.#holder,
      metrics: this.metrics,
      logger: this.logger,
      isDraining: () => this.#draining,
      ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
    }
  }

  async #openListener(listener: ListenerConfig, config: GatewayConfig): Promise<Listener> {
    const proto = listener.tls === null ? 'http' : 'https'
    const deps = this.#proxyDeps()
    const { handle, handleExpectContinue } = createRequestHandler(deps, proto)
    const tunnels: TunnelRegistry = {
      add: (client: Socket, upstream: Duplex) => {
        this.#tunnels.add(upstream)
        client.once('close', () => this.#tunnels.delete(upstream))
      },
    }
    const tls =
      listener.tls === null
        ? null
        : { cert: await readFile(listener.tls.certPath), key: await readFile(listener.tls.keyPath) }
    try {
      return await openListener(
        {
          name: listener.name,
          address: listener.address,
          tls,
          limits: {
            maxHeaderBytes: config.limits.maxHeaderBytes,
            headerTimeoutMs: config.limits.headerTimeoutMs,
            keepAliveTimeoutMs: CLIENT_KEEPALIVE_MS,
          },
        },
        {
          request: handle,
          checkContinue: handleExpectContinue,
          upgrade: createUpgradeHandler(deps, proto, tunnels),
          clientError: createClientErrorHandler(this.logger),
        },
        this.#tracker,
      )
    } catch (cause) {
      throw new GatewayError(
        ErrorCode.LISTEN_FAILED,
        `listener ${listener.name}: cannot listen on ${describe(listener)}: ${(cause as Error).message}`,
        { cause },
      )
    }
  }

  async #openAdmin(config: GatewayConfig): Promise<void> {
    if (config.admin === null) return
    const tokenEnv = config.admin.tokenEnv
    const token = tokenEnv === null ? null : (this.#env[tokenEnv] ?? null)
    if (tokenEnv !== null && (token === null || token === '')) {
      throw new ConfigError(this.#source(), [
        {
          path: 'admin.token_env',
          line: null,
          column: null,
          message: `environment variable ${tokenEnv} is not set (it holds the admin token)`,
        },
      ])
    }
    const handler = createAdminHandler({
      metrics: this.metrics,
      isReady: () => this.ready,
      token,
      logger: this.logger.child({ subsystem: 'admin' }),
    })
    try {
      this.#admin = await openAdminServer(config.admin.address, handler)
    } catch (cause) {
      throw new GatewayError(
        ErrorCode.LISTEN_FAILED,
        `admin: cannot listen: ${(cause as Error).message}`,
        { cause },
      )
    }
  }
}

function describe(listener: ListenerConfig): string {
  const a = listener.address
  return a.kind === 'unix' ? `unix:${a.path}` : `${a.host}:${a.port}`
}

/** Creates a gateway; nothing listens until `start()`. */
export function createGateway(options: GatewayOptions): Gateway {
  return new Gateway(options)
}
