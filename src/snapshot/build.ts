/**
 * buildSnapshot(): a validated config plus the runtime registry → an immutable Snapshot.
 * Compiles the router and every route entry, acquires registry leases for each target (the
 * registry keeps pools and health of targets that already existed) and joins the discovery of
 * upstreams that have one. Throws only on a programming error; anything acquired before a throw
 * is released again.
 */
import type {
  DiscoveryConfig,
  GatewayConfig,
  RetriesConfig,
  RouteConfig,
  TimeoutsConfig,
  UpstreamConfig,
} from '../config/types.ts'
import type { GatewayMetrics } from '../metrics/metrics.ts'
import type { Logger } from '../log/logger.ts'
import { createRouter } from '../router/router.ts'
import type { TargetState } from '../upstream/target-state.ts'
import type { UpstreamRegistry } from '../upstream/registry.ts'
import {
  compileHeaderOps,
  compileRedirect,
  compileRewrite,
  type Backend,
  type CompiledAction,
  type CompiledRetries,
  type RouteEntry,
  type UpstreamRuntime,
} from './route-entry.ts'
import { Snapshot } from './snapshot.ts'
import type { DiscoveryLease } from '../discovery/hub.ts'
import { UpstreamTargets } from './upstream-runtime.ts'

export interface BuildDeps {
  readonly registry: UpstreamRegistry
  readonly metrics: GatewayMetrics
  /** Root logger; the snapshot gets a child bound to its config_version. */
  readonly logger: Logger
  /** Uniform [0, 1) source for balancers and splits; tests inject a seeded one. */
  readonly random?: () => number
  /** Told when passive outlier detection ejects a target. */
  readonly onEjection?: (state: TargetState, untilMs: number) => void
  /** Starts following (or joins) the discovery of an upstream; the lease goes with the snapshot. */
  readonly discover?: (discovery: DiscoveryConfig, config: GatewayConfig) => DiscoveryLease
}

/** Builds the snapshot of `config` (whose version id is `version`). */
export function buildSnapshot(config: GatewayConfig, version: string, deps: BuildDeps): Snapshot {
  const upstreams = new Map<string, UpstreamRuntime>()
  try {
    const upstreamConfigs = new Map<string, UpstreamConfig>()
    for (const upstream of config.upstreams) {
      upstreams.set(upstream.name, buildUpstream(upstream, config, deps))
      upstreamConfigs.set(upstream.name, upstream)
    }
    const scope: BuildScope = {
      upstreams,
      upstreamConfigs,
      metrics: deps.metrics,
      retries: new Map(),
    }
    const entries = config.routes.map((route) => buildRouteEntry(route, scope))
    const router = createRouter(
      config.routes.map((route, i) => ({ match: route.match, data: entries[i] as RouteEntry })),
    )
    const logger = deps.logger.child({ config_version: version })
    return new Snapshot({ version, config, router, upstreams, logger })
  } catch (err) {
    for (const upstream of upstreams.values()) upstream.dispose()
    throw err
  }
}

function buildUpstream(
  upstream: UpstreamConfig,
  config: GatewayConfig,
  deps: BuildDeps,
): UpstreamRuntime {
  const settings = {
    name: upstream.name,
    balancer: upstream.balancer,
    hashKey: upstream.hashKey,
    outlier: upstream.outlier,
    pool: {
      connectTimeoutMs: upstream.timeouts.connectMs,
      maxConnections: upstream.keepalive.maxConnections,
      keepAliveTimeoutMs: upstream.keepalive.idleTimeoutMs,
    },
  }
  const runtimeDeps = {
    registry: deps.registry,
    ...(deps.random === undefined ? {} : { random: deps.random }),
    onEjection: (state: TargetState, untilMs: number) => deps.onEjection?.(state, untilMs),
  }
  // Health checks follow the config once it serves (Gateway → registry.configure), so that a
  // document rejected after this build changes nothing.
  if (upstream.discovery === null)
    return new UpstreamTargets(settings, runtimeDeps, upstream.targets)
  if (deps.discover === undefined) {
    throw new Error(`upstream ${upstream.name} uses discovery, which this gateway cannot run`)
  }
  return new UpstreamTargets(settings, runtimeDeps, [], deps.discover(upstream.discovery, config))
}

/** What compiling one route may look up. */
interface BuildScope {
  readonly upstreams: ReadonlyMap<string, UpstreamRuntime>
  readonly upstreamConfigs: ReadonlyMap<string, UpstreamConfig>
  readonly metrics: GatewayMetrics
  readonly retries: Map<RetriesConfig, CompiledRetries>
}

function buildRouteEntry(route: RouteConfig, scope: BuildScope): RouteEntry {
  return {
    name: route.name,
    action: compileAction(route, scope),
    rewrite: compileRewrite(route.rewrite),
    requestHeaders: compileHeaderOps(route.headers.request),
    responseHeaders: compileHeaderOps(route.headers.response),
    retries: compileRetries(route.retries, scope),
    maxBodyBytes: route.maxBodyBytes,
  }
}

/** Compiled once per retries object: routes sharing the inherited settings share the result. */
function compileRetries(retries: RetriesConfig, scope: BuildScope): CompiledRetries {
  let compiled = scope.retries.get(retries)
  if (compiled === undefined) {
    compiled = {
      attempts: retries.attempts,
      on: new Set(retries.on),
      nonIdempotent: retries.nonIdempotent,
    }
    scope.retries.set(retries, compiled)
  }
  return compiled
}

function compileAction(route: RouteConfig, scope: BuildScope): CompiledAction {
  const { metrics } = scope
  const backendFor = (name: string): Backend => {
    const upstream = scope.upstreams.get(name)
    const upstreamConfig = scope.upstreamConfigs.get(name)
    if (upstream === undefined || upstreamConfig === undefined) {
      throw new Error(`route ${route.name} refers to unknown upstream ${name}`)
    }
    const timeouts: TimeoutsConfig = { ...upstreamConfig.timeouts, ...route.timeouts }
    return { upstream, timeouts, recorder: metrics.recorderFor(route.name, name) }
  }
  const action = route.action
  switch (action.kind) {
    case 'forward':
      return { kind: 'forward', backend: backendFor(action.upstream) }
    case 'split': {
      let total = 0
      const backends = action.backends.map((b) => {
        total += b.weight
        return { backend: backendFor(b.upstream), bound: total }
      })
      return { kind: 'split', backends, total }
    }
    case 'respond': {
      const body = Buffer.from(action.body, 'utf8')
      const headers: string[] = []
      for (const [name, value] of Object.entries(action.headers)) {
        if (name.toLowerCase() !== 'content-length') headers.push(name, value)
      }
      headers.push('content-length', String(body.length))
      const recorder = metrics.recorderFor(route.name, '')
      return { kind: 'respond', status: action.status, body, headers, recorder }
    }
    case 'redirect': {
      const parts = compileRedirect(action.location)
      const recorder = metrics.recorderFor(route.name, '')
      return { kind: 'redirect', status: action.status, parts, recorder }
    }
  }
}
