/**
 * buildSnapshot(): a validated config plus the runtime registry → an immutable Snapshot.
 * Compiles the router and every route entry, acquires registry leases for each target (the
 * registry keeps pools and health of targets that already existed). Throws only on a
 * programming error; anything acquired before a throw is released again.
 */
import type { GatewayConfig, RouteConfig, TimeoutsConfig, UpstreamConfig } from '../config/types.ts'
import type { GatewayMetrics } from '../metrics/metrics.ts'
import type { Logger } from '../log/logger.ts'
import { createRouter } from '../router/router.ts'
import { createBalancer } from '../upstream/balancers/index.ts'
import { OutlierDetector } from '../upstream/outlier.ts'
import type { TargetState } from '../upstream/target-state.ts'
import type { TargetLease, UpstreamRegistry } from '../upstream/registry.ts'
import {
  TargetRef,
  compileHeaderOps,
  compileRedirect,
  compileRewrite,
  type Backend,
  type CompiledAction,
  type RouteEntry,
  type UpstreamRuntime,
} from './route-entry.ts'
import { Snapshot } from './snapshot.ts'

export interface BuildDeps {
  readonly registry: UpstreamRegistry
  readonly metrics: GatewayMetrics
  /** Root logger; the snapshot gets a child bound to its config_version. */
  readonly logger: Logger
  /** Uniform [0, 1) source for balancers and splits; tests inject a seeded one. */
  readonly random?: () => number
  /** Told when passive outlier detection ejects a target. */
  readonly onEjection?: (state: TargetState, untilMs: number) => void
}

/** Builds the snapshot of `config` (whose version id is `version`). */
export function buildSnapshot(config: GatewayConfig, version: string, deps: BuildDeps): Snapshot {
  const leases: TargetLease[] = []
  try {
    const upstreams = new Map<string, UpstreamRuntime>()
    const upstreamConfigs = new Map<string, UpstreamConfig>()
    for (const upstream of config.upstreams) {
      upstreams.set(upstream.name, buildUpstream(upstream, deps, leases))
      upstreamConfigs.set(upstream.name, upstream)
    }
    const scope: BuildScope = { upstreams, upstreamConfigs, metrics: deps.metrics }
    const entries = config.routes.map((route) => buildRouteEntry(route, scope))
    const router = createRouter(
      config.routes.map((route, i) => ({ match: route.match, data: entries[i] as RouteEntry })),
    )
    const logger = deps.logger.child({ config_version: version })
    return new Snapshot({ version, config, router, upstreams, leases, logger })
  } catch (err) {
    for (const lease of leases) lease.release()
    throw err
  }
}

function buildUpstream(
  upstream: UpstreamConfig,
  deps: BuildDeps,
  leases: TargetLease[],
): UpstreamRuntime {
  const settings = {
    connectTimeoutMs: upstream.timeouts.connectMs,
    maxConnections: upstream.keepalive.maxConnections,
    keepAliveTimeoutMs: upstream.keepalive.idleTimeoutMs,
  }
  const targets = upstream.targets.map((target) => {
    // Health checks follow the config once it serves (Gateway → registry.configure), so that
    // a document rejected after this build changes nothing.
    const lease = deps.registry.acquire(upstream.name, target.origin, settings)
    leases.push(lease)
    return new TargetRef(target.weight, lease.state, lease.pool)
  })
  const options = deps.random === undefined ? {} : { random: deps.random }
  const states = targets.map((t) => t.state)
  return {
    name: upstream.name,
    targets,
    balancer: createBalancer(upstream.balancer, targets, options),
    hashKey: upstream.hashKey,
    outlier:
      upstream.outlier === null
        ? null
        : new OutlierDetector(upstream.outlier, states, (state, untilMs) =>
            deps.onEjection?.(state, untilMs),
          ),
  }
}

/** What compiling one route may look up. */
interface BuildScope {
  readonly upstreams: ReadonlyMap<string, UpstreamRuntime>
  readonly upstreamConfigs: ReadonlyMap<string, UpstreamConfig>
  readonly metrics: GatewayMetrics
}

function buildRouteEntry(route: RouteConfig, scope: BuildScope): RouteEntry {
  return {
    name: route.name,
    action: compileAction(route, scope),
    rewrite: compileRewrite(route.rewrite),
    requestHeaders: compileHeaderOps(route.headers.request),
    responseHeaders: compileHeaderOps(route.headers.response),
    retries: {
      attempts: route.retries.attempts,
      on: new Set(route.retries.on),
      nonIdempotent: route.retries.nonIdempotent,
    },
    maxBodyBytes: route.maxBodyBytes,
  }
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
