/**
 * Validated raw document → `GatewayConfig`: built-in defaults filled in, `defaults` inherited,
 * durations in milliseconds, header names and hosts lower-cased, methods upper-cased. Pure; the
 * input must have passed `validateDocument` (a format that fails here is a bug, not user error).
 */
import assert from 'node:assert/strict'
import { DEFAULTS } from './defaults.ts'
import {
  expectValid,
  parseAddress,
  parseDuration,
  parseHashKey,
  parseOriginUrl,
  parseStickyKey,
} from './formats.ts'
import type { RawConfigDocument, RawRoute, RawUpstream } from './schema.ts'
import type {
  GatewayConfig,
  HeaderOps,
  LimitsConfig,
  ListenerConfig,
  RetriesConfig,
  RetryCondition,
  RolloutConfig,
  RouteAction,
  RouteConfig,
  RouteMatch,
  TimeoutsConfig,
  UpstreamConfig,
} from './types.ts'

type Raw = RawConfigDocument
type RawTimeouts = NonNullable<RawUpstream['timeouts']>
type RawHeaderOps = NonNullable<NonNullable<RawRoute['headers']>['request']>

function ms(duration: string): number {
  return expectValid(parseDuration(duration), 'duration')
}

/**
 * A user-keyed map with lower-case keys in sorted order. Every other object of the normalised
 * config is built here with a fixed key order, so with these sorted too the config's plain
 * JSON is canonical and `versionOf` can hash JSON.stringify's output directly.
 */
function lowerKeys(map: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const entries = Object.entries(map ?? {}).map(([k, v]): [string, string] => [k.toLowerCase(), v])
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** Builds the normalised config from a validated document. */
export function normalizeConfig(doc: Raw): GatewayConfig {
  return {
    listeners: doc.listeners.map(normalizeListener),
    admin:
      doc.admin === undefined
        ? null
        : {
            address: expectValid(parseAddress(doc.admin.address), 'address'),
            tokenEnv: doc.admin.token_env ?? null,
          },
    limits: normalizeLimits(doc),
    drainTimeoutMs: ms(doc.defaults?.drain_timeout ?? DEFAULTS.drain_timeout),
    upstreams: Object.entries(doc.upstreams ?? {}).map(([name, u]) =>
      normalizeUpstream(name, u, doc),
    ),
    routes: normalizeRoutes(doc),
    etcd: doc.etcd === undefined ? null : { endpoints: [...doc.etcd.endpoints] },
    rollout: doc.rollout === undefined ? null : normalizeRollout(doc.rollout),
  }
}

function normalizeListener(listener: Raw['listeners'][number], index: number): ListenerConfig {
  return {
    name: listener.name ?? `listener-${index}`,
    address: expectValid(parseAddress(listener.address), 'address'),
    tls:
      listener.tls === undefined
        ? null
        : { certPath: listener.tls.cert, keyPath: listener.tls.key },
  }
}

function normalizeLimits(doc: Raw): LimitsConfig {
  const limits = doc.defaults?.limits
  return {
    maxHeaderBytes: limits?.max_header_bytes ?? DEFAULTS.limits.max_header_bytes,
    maxBodyBytes: limits?.max_body_bytes ?? DEFAULTS.limits.max_body_bytes,
    headerTimeoutMs: ms(limits?.header_timeout ?? DEFAULTS.limits.header_timeout),
  }
}

/** Built-in timeouts, overridden key by key by `defaults.timeouts`, then by `own`. */
function inheritTimeouts(doc: Raw, own: RawTimeouts | undefined): TimeoutsConfig {
  const pick = (key: keyof RawTimeouts): string =>
    own?.[key] ?? doc.defaults?.timeouts?.[key] ?? DEFAULTS.timeouts[key]
  return {
    connectMs: ms(pick('connect')),
    responseHeaderMs: ms(pick('response_header')),
    idleMs: ms(pick('idle')),
  }
}

function normalizeUpstream(name: string, raw: RawUpstream, doc: Raw): UpstreamConfig {
  const balancer = raw.balancer ?? DEFAULTS.balancer
  return {
    name,
    balancer,
    hashKey:
      balancer === 'consistent-hash'
        ? expectValid(parseHashKey(raw.hash_key ?? DEFAULTS.hash_key), 'hash key')
        : null,
    targets: (raw.targets ?? []).map((t) => ({
      url: t.url,
      origin: expectValid(parseOriginUrl(t.url), 'url'),
      weight: t.weight ?? DEFAULTS.weight,
    })),
    healthCheck: raw.health_check === undefined ? null : normalizeHealthCheck(raw.health_check),
    outlier: raw.outlier === undefined ? null : normalizeOutlier(raw.outlier),
    discovery: normalizeDiscovery(raw.discovery),
    keepalive: {
      maxConnections: raw.keepalive?.max_connections ?? DEFAULTS.keepalive.max_connections,
      idleTimeoutMs: ms(raw.keepalive?.idle_timeout ?? DEFAULTS.keepalive.idle_timeout),
    },
    timeouts: inheritTimeouts(doc, raw.timeouts),
  }
}

function normalizeHealthCheck(
  hc: NonNullable<RawUpstream['health_check']>,
): UpstreamConfig['healthCheck'] {
  const d = DEFAULTS.health_check
  return {
    path: hc.path,
    intervalMs: ms(hc.interval ?? d.interval),
    timeoutMs: ms(hc.timeout ?? d.timeout),
    healthyThreshold: hc.healthy_threshold ?? d.healthy_threshold,
    unhealthyThreshold: hc.unhealthy_threshold ?? d.unhealthy_threshold,
  }
}

function normalizeOutlier(o: NonNullable<RawUpstream['outlier']>): UpstreamConfig['outlier'] {
  const d = DEFAULTS.outlier
  return {
    consecutiveFailures: o.consecutive_failures ?? d.consecutive_failures,
    ejectionTimeMs: ms(o.ejection_time ?? d.ejection_time),
    maxEjectionPercent: o.max_ejection_percent ?? d.max_ejection_percent,
  }
}

function normalizeDiscovery(raw: RawUpstream['discovery']): UpstreamConfig['discovery'] {
  if (raw?.dns !== undefined) {
    const { name, port, interval, servers } = raw.dns
    return {
      kind: 'dns',
      name: name.toLowerCase(),
      port,
      intervalMs: ms(interval ?? DEFAULTS.dns_interval),
      servers: servers === undefined ? null : [...servers],
    }
  }
  return raw?.etcd === undefined ? null : { kind: 'etcd', prefix: raw.etcd.prefix }
}

/**
 * Routes that set no retries share one object for the inherited ones (and the snapshot compiles
 * it once): a 10,000-route reload allocates, freezes and compiles one instead of 10,000.
 */
function normalizeRoutes(doc: Raw): RouteConfig[] {
  const inherited = normalizeRetries(doc, undefined)
  return (doc.routes ?? []).map((route, i) => normalizeRoute(route, i, doc, inherited))
}

/** The `headers` of a route that has none. */
const NO_HEADER_RULES = Object.freeze({ request: null, response: null })

function normalizeRoute(
  route: RawRoute,
  index: number,
  doc: Raw,
  inheritedRetries: RetriesConfig,
): RouteConfig {
  return {
    name: route.name ?? `route-${index}`,
    match: normalizeMatch(route.match),
    action: normalizeAction(route),
    rewrite:
      route.rewrite === undefined
        ? null
        : {
            stripPrefix: route.rewrite.strip_prefix ?? null,
            addPrefix: route.rewrite.add_prefix ?? null,
            regex:
              route.rewrite.regex === undefined
                ? null
                : [route.rewrite.regex[0], route.rewrite.regex[1]],
            host: route.rewrite.host?.toLowerCase() ?? null,
          },
    headers:
      route.headers === undefined
        ? NO_HEADER_RULES
        : {
            request: normalizeHeaderOps(route.headers.request),
            response: normalizeHeaderOps(route.headers.response),
          },
    retries: route.retries === undefined ? inheritedRetries : normalizeRetries(doc, route.retries),
    timeouts: normalizeRouteTimeouts(route.timeouts),
    maxBodyBytes:
      route.limits?.max_body_bytes ??
      doc.defaults?.limits?.max_body_bytes ??
      DEFAULTS.limits.max_body_bytes,
  }
}

function normalizeMatch(match: RawRoute['match']): RouteMatch {
  const methods =
    match.methods === undefined ? null : unique(match.methods.map((m) => m.toUpperCase()))
  const hosts = match.hosts === undefined ? null : unique(match.hosts.map((h) => h.toLowerCase()))
  const headers =
    match.headers === undefined || Object.keys(match.headers).length === 0
      ? null
      : lowerKeys(match.headers)
  // Object literals with one shape each, not spreads: this runs once per route of a reload.
  if (match.path !== undefined) return { methods, hosts, headers, kind: 'path', path: match.path }
  if (match.prefix !== undefined) {
    return { methods, hosts, headers, kind: 'prefix', prefix: match.prefix }
  }
  assert.ok(match.regex !== undefined, 'validated match has no path, prefix or regex')
  return { methods, hosts, headers, kind: 'regex', regex: match.regex }
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)]
}

function normalizeAction(route: RawRoute): RouteAction {
  if (route.upstream !== undefined) return { kind: 'forward', upstream: route.upstream }
  if (route.split !== undefined) {
    return {
      kind: 'split',
      backends: route.split.map((b) => ({ upstream: b.upstream, weight: b.weight })),
    }
  }
  if (route.respond !== undefined) {
    return {
      kind: 'respond',
      status: route.respond.status ?? DEFAULTS.respond.status,
      body: route.respond.body ?? DEFAULTS.respond.body,
      headers: lowerKeys(route.respond.headers),
    }
  }
  const redirect = route.redirect
  assert.ok(redirect !== undefined, 'validated route has no action')
  return {
    kind: 'redirect',
    location: redirect.location,
    status: redirect.status ?? DEFAULTS.redirect_status,
  }
}

function normalizeHeaderOps(ops: RawHeaderOps | undefined): HeaderOps | null {
  if (ops === undefined) return null
  return {
    set: lowerKeys(ops.set),
    add: lowerKeys(ops.add),
    remove: unique((ops.remove ?? []).map((name) => name.toLowerCase())),
  }
}

/** Built-in retries, overridden key by key by `defaults.retries`, then by the route's own. */
function normalizeRetries(doc: Raw, own: RawRoute['retries']): RetriesConfig {
  const inherited = doc.defaults?.retries
  const on = own?.on ?? inherited?.on ?? DEFAULTS.retries.on
  return {
    attempts: own?.attempts ?? inherited?.attempts ?? DEFAULTS.retries.attempts,
    on: unique(on.map(toCondition)),
    nonIdempotent: own?.non_idempotent ?? DEFAULTS.retries.non_idempotent,
  }
}

// YAML lets users write `502` or `"502"`; the normalised config always has the string.
function toCondition(
  raw: NonNullable<NonNullable<RawRoute['retries']>['on']>[number],
): RetryCondition {
  return typeof raw === 'number' ? (`${raw}` as const) : raw
}

function normalizeRouteTimeouts(raw: RawTimeouts | undefined): Partial<TimeoutsConfig> | null {
  if (raw === undefined) return null
  const timeouts = {
    ...(raw.connect === undefined ? {} : { connectMs: ms(raw.connect) }),
    ...(raw.response_header === undefined ? {} : { responseHeaderMs: ms(raw.response_header) }),
    ...(raw.idle === undefined ? {} : { idleMs: ms(raw.idle) }),
  }
  return Object.keys(timeouts).length === 0 ? null : timeouts
}

function normalizeRollout(raw: NonNullable<Raw['rollout']>): RolloutConfig {
  return {
    canaryPercent: raw.canary_percent,
    windowMs: ms(raw.window),
    maxErrorRate: raw.max_error_rate,
    minRequests: raw.min_requests ?? DEFAULTS.min_requests,
    sticky: raw.sticky === undefined ? null : expectValid(parseStickyKey(raw.sticky), 'sticky key'),
  }
}
