/**
 * createGateway(): composes the subsystems (config → reload pipeline → snapshot → listeners,
 * admin, metrics, logging) and owns start, reload and graceful close. The CLI is a thin layer
 * over this; the library API (SPEC §8) is this same object.
 */
import type http from 'node:http'
import type { Duplex } from 'node:stream'
import net, { type Socket } from 'node:net'
import { createAdminHandler, openAdminServer } from './admin/admin-server.ts'
import { configRoutes, type ConfigCommands } from './admin/routes/config.ts'
import { upstreamsReport, type UpstreamReport } from './admin/routes/upstreams.ts'
export type { UpstreamReport } from './admin/routes/upstreams.ts'
import { loadConfig, readConfigFile, type LoadedConfig } from './config/load.ts'
import { watchConfigFile, type ConfigFileWatcher } from './config/sources/file.ts'
import type { AdminConfig, GatewayConfig, ListenerConfig } from './config/types.ts'
import { ConfigError, ErrorCode, GatewayError } from './errors.ts'
import { drainListeners } from './lifecycle/drain.ts'
import { ReloadController, type ReloadResult, type ReloadSource } from './lifecycle/reload.ts'
import { createLogger, type LogFormat, type LogLevel, type Logger } from './log/logger.ts'
import { GatewayMetrics, type RolloutCounts } from './metrics/metrics.ts'
import { rolloutRoutes } from './admin/routes/rollout.ts'
import type { RolloutResult } from './lifecycle/rollout.ts'
import { createClientErrorHandler } from './proxy/client-error.ts'
import { sendError, sendRawError } from './proxy/error-response.ts'
import { newRequestId } from './proxy/forwarded-headers.ts'
import { createRequestHandler, type ProxyDeps } from './proxy/handle-request.ts'
import type { Middleware } from './proxy/middleware.ts'
import { createUpgradeHandler, type TunnelRegistry } from './proxy/tunnel.ts'
import { fdOf, socketKey, type InheritedSocket, type InheritedSockets } from './server/inherited.ts'
import { ListenerSet } from './server/listener-set.ts'
import type { Listener, ListenerHandlers } from './server/listeners.ts'
import { buildSnapshot } from './snapshot/build.ts'
import { SnapshotHolder } from './snapshot/holder.ts'
import type { Snapshot } from './snapshot/snapshot.ts'
import { UpstreamRegistry } from './upstream/registry.ts'
import { DiscoveryHub } from './discovery/hub.ts'
import { awaitDiscovery, DISCOVERY_WARMUP_MS } from './discovery/warm-up.ts'
import { EtcdClients } from './etcd/client.ts'
import { FleetConfig, type EtcdSourceOptions } from './lifecycle/fleet-config.ts'
export type { EtcdSourceOptions } from './lifecycle/fleet-config.ts'
import type { HandedState } from './lifecycle/upgrade.ts'

export type Env = Readonly<Record<string, string | undefined>>

/** After a 1001 close frame at the drain deadline, how long a WebSocket client has to close. */
const WS_CLOSE_GRACE_MS = 1000

export interface GatewayOptions {
  /** Path of a YAML or JSON config file. */
  readonly configPath?: string
  /** A config document given directly (the same shape as the file), instead of `configPath`. */
  readonly config?: unknown
  /**
   * Fleet mode (SPEC §7): the document is read from `key` on the etcd cluster at `endpoints`
   * and every new revision is applied; instead of `configPath` or `config`. The cluster is also
   * the default one of etcd discovery.
   */
  readonly etcd?: EtcdSourceOptions
  /** Watch `configPath` and reload when it changes (the CLI turns this on). */
  readonly watch?: boolean
  /** Debounce of the file watcher, in ms (default 100). */
  readonly watchDebounceMs?: number
  /** Environment for `${VAR}` interpolation and `admin.token_env`; defaults to process.env. */
  readonly env?: Env
  /** A logger to use; else one is created from `logLevel` and `logFormat`. */
  readonly logger?: Logger
  readonly logLevel?: LogLevel
  readonly logFormat?: LogFormat
  /** Random source for balancers and splits (tests inject a seeded one). */
  readonly random?: () => number
  /**
   * Listening sockets handed to this process (hot upgrade, systemd socket activation): a
   * listener or the admin API on one of their addresses takes the socket over instead of
   * binding; the ones no listener takes are closed once started.
   */
  readonly inheritedSockets?: InheritedSockets
  /** How errors and history name a document given as `config` (default "inline"). */
  readonly sourceName?: string
  /**
   * One worker among several (`--workers N`): the admin API's reload, rollback and metrics go
   * through these, which apply to every worker (the supervisor relays them), instead of this
   * gateway alone.
   */
  readonly control?: GatewayControl
  /**
   * Start on this document instead of reading `configPath` (which is then applied right after,
   * as a reload): a hot upgrade's new process gets it from the old one (see HandedState).
   */
  readonly startWith?: HandedState
}

/** What a worker's admin API asks of the supervisor (see GatewayOptions.control). */
export interface GatewayControl {
  reload(document: string | undefined): Promise<ReloadResult>
  rollback(version: string): Promise<ReloadResult | null>
  metrics(): Promise<{ body: string; contentType: string }>
  /** POST /rollout/promote | abort, for every worker. */
  endRollout(action: 'promote' | 'abort'): Promise<RolloutResult | null>
  /** This worker's counts of the running roll-out (sent every 20 ms while they change). */
  reportRollout(canaryVersion: string, counts: RolloutCounts): void
}

/** Where a started gateway listens (ports resolved when 0 was asked). */
export interface GatewayAddresses {
  readonly listeners: readonly { readonly name: string; readonly address: string }[]
  readonly admin: string | null
}

/** A hitless gateway: `start()`, `reload()`, then `close()` for a graceful stop. */
export class Gateway {
  readonly logger: Logger
  readonly metrics = new GatewayMetrics()
  readonly #options: GatewayOptions
  readonly #env: Env
  readonly #registry: UpstreamRegistry
  readonly #etcdClients = new EtcdClients()
  readonly #discovery: DiscoveryHub
  /** Fleet mode's config source (null otherwise). */
  #fleet: FleetConfig | null = null
  readonly #holder = new SnapshotHolder()
  /** Open tunnels: upstream side → client side and how to end it with 1001 (WebSocket). */
  readonly #tunnels = new Map<Duplex, { client: Socket; goAway: (() => void) | null }>()
  readonly #listeners: ListenerSet
  readonly #reloads: ReloadController
  #retiring = new Set<Listener>()
  #admin: { server: http.Server; config: AdminConfig; token: string | null } | null = null
  #adminChain: Promise<void> = Promise.resolve()
  #watcher: ConfigFileWatcher | null = null
  /** The config file's text as last read by a load: the watcher's starting point. */
  #fileText: string | undefined
  #draining = false
  #closing: Promise<void> | null = null
  /** The library's middleware (`use`), shared by every listener's handler. */
  readonly #middleware: Middleware[] = []

  constructor(options: GatewayOptions) {
    const sources = [options.configPath, options.config, options.etcd].filter(
      (s) => s !== undefined,
    )
    if (sources.length !== 1) {
      throw new GatewayError(
        ErrorCode.INTERNAL,
        'createGateway needs exactly one of configPath, config, etcd',
      )
    }
    this.#options = options
    this.#env = options.env ?? process.env
    this.logger =
      options.logger ??
      createLogger({ level: options.logLevel ?? 'info', format: options.logFormat ?? 'json' })
    this.#discovery = new DiscoveryHub(this.logger, this.#etcdClients)
    this.#registry = new UpstreamRegistry({
      onHealthChange: (state, healthy, reason) => {
        const fields = { upstream: state.upstream, target: state.origin, reason }
        if (healthy) this.logger.info(fields, 'upstream target healthy again')
        else this.logger.warn(fields, 'upstream target unhealthy: taken out of rotation')
      },
      // A target that left the config leaves the metrics too (no series piling up over reloads).
      onStateRemoved: (state) =>
        this.metrics.ejections.remove({ upstream: state.upstream, target: state.origin }),
    })
    this.metrics.setTargetsSource(() =>
      this.#registry
        .states()
        .map((s) => ({ upstream: s.upstream, target: s.origin, available: s.available })),
    )
    this.#listeners = new ListenerSet({
      handlersFor: (config, listener) => this.#handlersFor(config, listener),
      retire: (listener) => this.#retireListener(listener),
      takeInherited: (address) => options.inheritedSockets?.take(address, 'listener'),
    })
    this.#reloads = new ReloadController({
      holder: this.#holder,
      metrics: this.metrics,
      logger: this.logger,
      build: (config, version) =>
        buildSnapshot(config, version, {
          registry: this.#registry,
          metrics: this.metrics,
          logger: this.logger,
          ...(options.random === undefined ? {} : { random: options.random }),
          discover: (discovery, config) =>
            this.#discovery.acquire(
              discovery,
              config.etcd?.endpoints ?? options.etcd?.endpoints ?? null,
            ),
          onEjection: (state, untilMs) => {
            this.metrics.ejections.inc({ upstream: state.upstream, target: state.origin })
            this.logger.warn(
              {
                upstream: state.upstream,
                target: state.origin,
                until: new Date(untilMs).toISOString(),
              },
              'upstream target ejected after consecutive failures',
            )
          },
        }),
      prepare: (snapshot) => awaitDiscovery(snapshot, this.logger, DISCOVERY_WARMUP_MS),
      openListeners: (config) => this.#applyListeners(config),
      onApplied: (upstreams) => this.#registry.configure(upstreams),
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(options.control === undefined
        ? {}
        : { reportRollout: options.control.reportRollout.bind(options.control) }),
      sourceName: this.#sourceName(),
    })
    this.metrics.setOpenConnectionsSource(() => this.#listeners.connectionCount)
  }

  /**
   * Adds a middleware to the chain every HTTP request runs (SPEC §8), after those added before:
   * `async (ctx, next) => { … await next() … }`. Works before or after `start()`, and the
   * chain stays across reloads and roll-outs. Returns the gateway, for chaining.
   */
  use(middleware: Middleware): this {
    if (typeof middleware !== 'function') {
      throw new TypeError('gateway.use() takes a function (ctx, next) => …')
    }
    this.#middleware.push(middleware)
    return this
  }

  /** True while the gateway serves and is not draining (GET /readyz). */
  get ready(): boolean {
    return this.#holder.current !== null && !this.#draining
  }

  /** The version id of the config being served, or null before start. */
  get configVersion(): string | null {
    return this.#holder.current?.version ?? null
  }

  /**
   * The snapshot new requests get (null before start), for tests and diagnostics; read-only.
   * Whoever keeps this reference keeps a retired snapshot (router, config) in memory: hold it
   * through a `WeakRef`, as test/integration/reload-leak.test.ts does.
   */
  get snapshot(): Snapshot | null {
    return this.#holder.current
  }

  /**
   * The upstreams of the running config and the runtime state of each target (GET /upstreams):
   * availability, health and its last probe, in-flight requests.
   */
  upstreamsReport(): UpstreamReport[] {
    return upstreamsReport(this.#holder.current)
  }

  /** Upstream connection pools alive in the registry, for tests and diagnostics. */
  get upstreamPoolCount(): number {
    return this.#registry.poolCount
  }

  /** The reload pipeline (history, current document); read-only use. */
  get reloads(): ReloadController {
    return this.#reloads
  }

  /** The running staged roll-out with both versions' counts, or `none` and how the last ended. */
  rolloutView(): ReturnType<ReloadController['rolloutView']> {
    return this.#reloads.rolloutView()
  }

  /** Promotes the running canary to all traffic now; null when no roll-out runs. */
  promoteRollout(reason = 'promoted by hand'): RolloutResult | null {
    return this.#reloads.endRollout('promoted', reason)
  }

  /** Drops the running canary; the stable version serves everything. Null when none runs. */
  abortRollout(reason = 'aborted by hand'): RolloutResult | null {
    return this.#reloads.endRollout('aborted', reason)
  }

  /**
   * A worker among several: the supervisor's decision about canary `version`, judged on every
   * worker's counts (null when this worker does not run that canary).
   */
  decideRollout(
    version: string,
    outcome: 'promoted' | 'rolled_back' | 'aborted',
    reason: string,
  ): RolloutResult | null {
    return this.#reloads.endRollout(outcome, reason, version)
  }

  /** A worker among several: every worker's counts of canary `version`, summed (GET /rollout). */
  shareRolloutCounts(version: string, counts: RolloutCounts): void {
    const rollout = this.#reloads.rollout
    if (rollout?.canaryVersion === version) rollout.report(counts)
  }

  get addresses(): GatewayAddresses {
    const admin = this.#admin?.server.address()
    return {
      listeners: this.#listeners.all.map((l) => ({ name: l.name, address: l.url })),
      admin:
        admin === undefined || admin === null
          ? null
          : typeof admin === 'string'
            ? `unix:${admin}`
            : `${admin.family === 'IPv6' ? `[${admin.address}]` : admin.address}:${admin.port}`,
    }
  }

  /**
   * The listening sockets (public listeners and admin API) with their descriptors, for a hot
   * upgrade to hand over to the process that replaces this one.
   */
  listeningSockets(): InheritedSocket[] {
    const servers = this.#listeners.all.map((l) => ({
      use: 'listener',
      address: l.address,
      server: l.server,
    }))
    if (this.#admin !== null) {
      servers.push({
        use: 'admin',
        address: this.#admin.config.address,
        server: this.#admin.server,
      })
    }
    const sockets: InheritedSocket[] = []
    for (const { use, address, server } of servers) {
      const fd = fdOf(server)
      if (fd !== null) sockets.push({ fd, key: `${use}@${socketKey(address)}` })
    }
    return sockets
  }

  /**
   * Loads the config, builds the first snapshot and opens every listener.
   * Rejects with a ConfigError (every issue listed) or a GatewayError naming the listener.
   */
  async start(): Promise<void> {
    try {
      const { etcd, startWith } = this.#options
      if (etcd !== undefined) await this.#startFleet(etcd)
      else if (startWith !== undefined) await this.#startWith(startWith)
      else await this.#reloads.apply(() => this.#load(), 'start')
      await this.#applyAdmin(this.#holder.current?.config ?? null)
      // Started on a handed document: the file as it is now, as a reload would take it.
      if (startWith !== undefined && this.#options.configPath !== undefined) {
        const result = await this.#reloads.apply(() => this.#load(), 'file')
        if (result.outcome === 'applied') await this.#applyAdminQuietly()
      }
    } catch (err) {
      await this.#closeNow()
      throw err
    }
    const unclaimed = this.#options.inheritedSockets?.closeUnclaimed() ?? []
    if (unclaimed.length > 0) {
      this.logger.info({ addresses: unclaimed }, 'inherited sockets not in the config: closed')
    }
    if (this.#options.watch === true && this.#options.configPath !== undefined) this.#watch()
    this.logger.info(
      { config_version: this.configVersion, ...this.addresses },
      `hitless serving on ${this.#listeners.all.map((l) => l.url).join(', ')}`,
    )
  }

  /**
   * Applies a new config: `config` (a document, as for createGateway) when given, else the
   * config file read again. A bad document is rejected whole and the running one keeps
   * serving; the result says which happened.
   */
  async reload(config?: unknown, source: ReloadSource = 'api'): Promise<ReloadResult> {
    if (this.#closing !== null) {
      const message = 'the gateway is stopping: no config is applied any more'
      return { outcome: 'rejected', errors: [{ path: '', line: null, column: null, message }] }
    }
    const load = config === undefined ? () => this.#load() : () => this.#loadDocument(config)
    const result = await this.#reloads.apply(load, source)
    if (result.outcome === 'applied') await this.#applyAdminQuietly()
    return result
  }

  /** Re-applies an earlier version from the history; null when that version is not kept. */
  async rollback(version: string): Promise<ReloadResult | null> {
    const result = await this.#reloads.rollback(version)
    if (result?.outcome === 'applied') await this.#applyAdminQuietly()
    return result
  }

  /**
   * Stops accepting connections on every listener and on the admin API at once, leaving the
   * open ones be: what a hot upgrade does before the new process takes over, so that from then
   * on only the new process accepts on the shared sockets. `close()` then drains.
   */
  stopAccepting(): void {
    for (const listener of this.#listeners.all) listener.stopAccepting()
    const admin = this.#admin?.server
    // net.Server's close, not http.Server's: that one would also reset idle connections,
    // including one accepted a moment ago (see Listener.stopAccepting).
    if (admin?.listening === true) net.Server.prototype.close.call(admin)
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
    this.#watcher?.close()
    this.#fleet?.close()
    // An apply under way (bounded: discovery warm-up, listener binding) finishes first, so its
    // listeners are drained below rather than opened after the stop.
    await this.#reloads.settled()
    const timeoutMs = this.#holder.current?.config.drainTimeoutMs ?? 0
    this.logger.info({ drain_timeout_ms: timeoutMs }, 'draining')
    const listeners = [...this.#listeners.clear(), ...this.#retiring]
    const { cut } = await drainListeners({
      listeners,
      timeoutMs,
      logger: this.logger,
      beforeCut: () => this.#goAwayTunnels(),
    })
    await this.#closeNow()
    this.logger.info({ cut }, 'stopped')
  }

  /**
   * At the drain deadline: WebSocket tunnels get a 1001 close frame each way, and their clients
   * a moment (at most WS_CLOSE_GRACE_MS) to answer it and close, before the cut.
   */
  async #goAwayTunnels(): Promise<void> {
    const closing: Promise<unknown>[] = []
    for (const { client, goAway } of this.#tunnels.values()) {
      if (goAway === null || client.destroyed) continue
      closing.push(new Promise((resolve) => client.once('close', resolve)))
      goAway()
    }
    if (closing.length === 0) return
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise((resolve) => (timer = setTimeout(resolve, WS_CLOSE_GRACE_MS)))
    await Promise.race([Promise.all(closing), grace])
    clearTimeout(timer)
  }

  /** Closes everything without waiting for requests (start failure, after a drain). */
  async #closeNow(): Promise<void> {
    this.#reloads.close()
    this.#watcher?.close()
    this.#fleet?.close()
    for (const listener of [...this.#listeners.clear(), ...this.#retiring]) {
      listener.stopAccepting()
      listener.tracker.destroyAll()
      listener.release()
    }
    for (const upstream of this.#tunnels.keys()) upstream.destroy()
    await this.#closeAdmin()
    this.#options.inheritedSockets?.closeUnclaimed()
    this.#holder.clear()
    this.#discovery.closeAll()
    await this.#registry.destroy()
  }

  async #load(): Promise<LoadedConfig> {
    const { configPath, config } = this.#options
    if (this.#fleet !== null) return this.#fleet.loadCurrent()
    if (configPath === undefined) return this.#loadDocument(config)
    const text = await readConfigFile(configPath)
    this.#fileText = text
    return loadConfig(text, { source: configPath, env: this.#env, ...this.#loadContext() })
  }

  #loadDocument(config: unknown): LoadedConfig {
    // A string is YAML or JSON (told apart by its content, for POST /reload bodies); an object
    // is serialised as JSON, which takes the fast JSON path of the loader.
    const source = this.#options.sourceName ?? 'inline'
    const context = { source, env: this.#env, ...this.#loadContext() }
    if (typeof config === 'string') return loadConfig(config, context)
    return loadConfig(JSON.stringify(config), { ...context, format: 'json' })
  }

  /** What validation may assume beyond the document: fleet mode's cluster, for discovery. */
  #loadContext(): { etcdCluster?: boolean } {
    return this.#options.etcd === undefined ? {} : { etcdCluster: true }
  }

  async #startWith(state: HandedState): Promise<void> {
    const source = this.#options.configPath ?? this.#sourceName()
    const context = { source, env: this.#env, format: 'json' as const, ...this.#loadContext() }
    await this.#reloads.apply(() => loadConfig(state.document, context), 'start')
    this.#reloads.markRolledBack(state.rolledBack)
    this.logger.info(
      { config_version: this.configVersion, rolled_back: state.rolledBack },
      'hot upgrade: started on the stable document the old process served',
    )
  }

  /**
   * For a hot upgrade's new process, while a roll-out runs or after one was rolled back: the
   * stable document and the rolled-back version (null otherwise, and in fleet mode).
   */
  handedState(): HandedState | null {
    const current = this.#reloads.current
    const rolledBack = this.#reloads.rolledBack
    if (this.#options.etcd !== undefined || current === null) return null
    if (this.#reloads.rollout === null && rolledBack === null) return null
    return { document: JSON.stringify(current.document), rolledBack }
  }

  /** Fleet mode's start: see FleetConfig. */
  #startFleet(etcd: EtcdSourceOptions): Promise<void> {
    this.#fleet = new FleetConfig({
      etcd,
      clients: this.#etcdClients,
      reloads: this.#reloads,
      logger: this.logger,
      env: this.#env,
      sourceName: this.#sourceName(),
      configVersion: () => this.configVersion,
      accepting: () => this.#closing === null,
      afterApplied: () => this.#applyAdminQuietly(),
    })
    return this.#fleet.start()
  }

  #sourceName(): string {
    const etcd = this.#options.etcd
    if (etcd !== undefined) return `etcd:${etcd.key}`
    return this.#options.configPath ?? this.#options.sourceName ?? 'inline'
  }

  /** The admin API's commands of a worker: relayed to every worker by the supervisor. */
  #relayedCommands(control: GatewayControl): ConfigCommands {
    return {
      reloads: this.#reloads,
      reload: (config) => control.reload(typeof config === 'string' ? config : undefined),
      rollback: (version) => control.rollback(version),
    }
  }

  #watch(): void {
    const path = this.#options.configPath
    if (path === undefined) return
    this.#watcher = watchConfigFile(path, {
      debounceMs: this.#options.watchDebounceMs ?? 100,
      // What start() applied: a change made right after it is then still seen as a change.
      ...(this.#fileText === undefined ? {} : { initialText: this.#fileText }),
      onChange: (text, change) => this.#onFileChange(path, text, change.recheck),
      onError: (err) => this.logger.warn({ err: err.message, path }, 'config file watch problem'),
    })
  }

  /** A changed file: apply it; a parse failure right after a change is retried once first. */
  async #onFileChange(path: string, text: string, recheck: boolean): Promise<'retry' | undefined> {
    let loaded: LoadedConfig
    try {
      loaded = loadConfig(text, { source: path, env: this.#env, ...this.#loadContext() })
    } catch (err) {
      // A half-written file looks exactly like this: try again after the debounce, and report
      // only if the same content still fails (the watcher delivers it once more).
      if (!recheck) {
        this.logger.debug({ path }, 'config file does not parse yet: checking it again')
        return 'retry'
      }
      await this.#reloads.apply(() => {
        throw err
      }, 'file')
      return undefined
    }
    const result = await this.#reloads.apply(() => loaded, 'file')
    if (result.outcome === 'applied') await this.#applyAdminQuietly()
    return undefined
  }

  #proxyDeps(isDraining: () => boolean): ProxyDeps {
    return {
      holder: this.#holder,
      metrics: this.metrics,
      logger: this.logger,
      isDraining,
      middleware: this.#middleware,
      ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
    }
  }

  #handlersFor(config: ListenerConfig, listener: Listener): ListenerHandlers {
    const proto = config.tls === null ? 'http' : 'https'
    const deps = this.#proxyDeps(() => this.#draining || listener.retiring)
    const { handle, handleExpectContinue } = createRequestHandler(deps, proto)
    const tunnels: TunnelRegistry = {
      add: (client: Socket, upstream: Duplex, goAway: (() => void) | null) => {
        this.#tunnels.set(upstream, { client, goAway })
        client.once('close', () => this.#tunnels.delete(upstream))
      },
    }
    return {
      request: handle,
      checkContinue: handleExpectContinue,
      upgrade: createUpgradeHandler(deps, proto, tunnels),
      clientError: createClientErrorHandler(this.logger),
      checkExpectation: (_req, res) =>
        sendError(res, ErrorCode.EXPECTATION_FAILED, newRequestId(), { close: true }),
      connect: (_req, socket) =>
        sendRawError(socket, ErrorCode.METHOD_NOT_SUPPORTED, newRequestId()),
    }
  }

  async #applyListeners(config: GatewayConfig): Promise<void> {
    try {
      await this.#listeners.apply(config.listeners, config.limits)
    } catch (cause) {
      throw new GatewayError(ErrorCode.LISTEN_FAILED, (cause as Error).message, {
        cause,
      })
    }
  }

  /** A listener removed by a reload: stop accepting, let its connections finish, then forget it. */
  #retireListener(listener: Listener): void {
    this.#retiring.add(listener)
    const timeoutMs = this.#holder.current?.config.drainTimeoutMs ?? 30_000
    this.logger.info(
      { listener: listener.name, address: listener.url },
      'listener removed: draining it',
    )
    void drainListeners({ listeners: [listener], timeoutMs, logger: this.logger }).then(() =>
      this.#retiring.delete(listener),
    )
  }

  /**
   * Opens, moves or closes the admin listener to match `config`. Same address: the socket is
   * kept and only the token is updated; a new address opens before the old one closes.
   */
  #applyAdmin(config: GatewayConfig | null): Promise<void> {
    // One at a time: start's and a quick first reload's (fleet mode) must not both bind.
    const run = this.#adminChain.then(() => this.#applyAdminNow(config))
    this.#adminChain = run.catch(() => undefined)
    return run
  }

  async #applyAdminNow(config: GatewayConfig | null): Promise<void> {
    const wanted = config?.admin ?? null
    if (wanted === null) {
      await this.#closeAdmin()
      return
    }
    const token = this.#adminToken(wanted)
    const open = this.#admin
    if (open !== null && sameAddress(open.config, wanted)) {
      this.#admin = { ...open, config: wanted, token }
      return
    }
    const control = this.#options.control
    const handler = createAdminHandler({
      metrics: control === undefined ? this.metrics : { render: () => control.metrics() },
      isReady: () => this.ready,
      token: () => this.#admin?.token ?? token,
      logger: this.logger.child({ subsystem: 'admin' }),
      routes: new Map([
        ...configRoutes(control === undefined ? this : this.#relayedCommands(control)),
        ['GET /upstreams', () => ({ status: 200, json: { upstreams: this.upstreamsReport() } })],
        ...rolloutRoutes({
          rolloutView: () => this.rolloutView(),
          // A worker's promote or abort is decided for every worker, by the supervisor.
          endRollout: (action) =>
            control === undefined
              ? Promise.resolve(action === 'promote' ? this.promoteRollout() : this.abortRollout())
              : control.endRollout(action),
        }),
      ]),
    })
    let server: http.Server
    try {
      const fd = this.#options.inheritedSockets?.take(wanted.address, 'admin')
      server = await openAdminServer(wanted.address, handler, fd)
    } catch (cause) {
      const message = `admin: cannot listen: ${(cause as Error).message}`
      throw new GatewayError(ErrorCode.LISTEN_FAILED, message, { cause })
    }
    await this.#closeAdmin()
    this.#admin = { server, config: wanted, token }
  }

  /** After a reload the admin listener follows the new config; a failure there is logged. */
  async #applyAdminQuietly(): Promise<void> {
    try {
      await this.#applyAdmin(this.#holder.current?.config ?? null)
    } catch (err) {
      this.logger.error(
        { err: (err as Error).message },
        'admin listener could not follow the new config',
      )
    }
  }

  #adminToken(admin: AdminConfig): string | null {
    const tokenEnv = admin.tokenEnv
    if (tokenEnv === null) return null
    const token = this.#env[tokenEnv]
    if (token === undefined || token === '') {
      throw new ConfigError(this.#sourceName(), [
        {
          path: 'admin.token_env',
          line: null,
          column: null,
          message: `environment variable ${tokenEnv} is not set (it holds the admin token)`,
        },
      ])
    }
    return token
  }

  async #closeAdmin(): Promise<void> {
    const admin = this.#admin
    this.#admin = null
    if (admin === null) return
    admin.server.closeAllConnections()
    await new Promise<void>((resolve) => admin.server.close(() => resolve()))
  }
}

function sameAddress(a: AdminConfig, b: AdminConfig): boolean {
  return JSON.stringify(a.address) === JSON.stringify(b.address)
}

/** Creates a gateway; nothing listens until `start()`. */
export function createGateway(options: GatewayOptions): Gateway {
  return new Gateway(options)
}
