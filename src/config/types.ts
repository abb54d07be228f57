/**
 * The normalised config: what `config/normalize.ts` produces from a validated document and what
 * the snapshot builder consumes. Plain, JSON-serialisable data only: durations in milliseconds,
 * inheritance from `defaults` already applied, every optional block either filled or `null`.
 * (The raw document's type is derived from the schema in `schema.ts`; this is the other side.)
 */

export type ListenAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string }

export interface TlsConfig {
  readonly certPath: string
  readonly keyPath: string
}

export interface ListenerConfig {
  readonly name: string
  readonly address: ListenAddress
  readonly tls: TlsConfig | null
}

export interface AdminConfig {
  readonly address: ListenAddress
  /** Name of the environment variable holding the bearer token; the token itself is never here. */
  readonly tokenEnv: string | null
}

export interface TimeoutsConfig {
  /** TCP/TLS connect to a target. */
  readonly connectMs: number
  /** Request fully sent → response headers received. */
  readonly responseHeaderMs: number
  /** No bytes either way on an established exchange. */
  readonly idleMs: number
}

export type RetryCondition =
  'connect-failure' | 'reset' | 'timeout' | 'connect-timeout' | '500' | '502' | '503' | '504'

export interface RetriesConfig {
  /** Extra attempts after the first (0 = no retry). */
  readonly attempts: number
  readonly on: readonly RetryCondition[]
  /** Route opt-in: retry non-idempotent methods (POST, PATCH) too, within the replay buffer. */
  readonly nonIdempotent: boolean
}

export interface LimitsConfig {
  readonly maxHeaderBytes: number
  readonly maxBodyBytes: number
  readonly headerTimeoutMs: number
}

export type BalancerName =
  'round-robin' | 'weighted' | 'least-request' | 'random' | 'consistent-hash'

export type HashKey =
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string }
  | { readonly kind: 'client-ip' }
  | { readonly kind: 'path' }

export interface TargetConfig {
  /** As written, e.g. `http://127.0.0.1:9001`. */
  readonly url: string
  /** `protocol//host:port` with the default port made explicit: the target's identity. */
  readonly origin: string
  readonly weight: number
}

export interface HealthCheckConfig {
  readonly path: string
  readonly intervalMs: number
  readonly timeoutMs: number
  readonly healthyThreshold: number
  readonly unhealthyThreshold: number
}

export interface OutlierConfig {
  readonly consecutiveFailures: number
  readonly ejectionTimeMs: number
  readonly maxEjectionPercent: number
}

export type DiscoveryConfig =
  | {
      readonly kind: 'dns'
      readonly name: string
      readonly port: number
      readonly intervalMs: number
      /** Name servers to ask directly; null for the system resolver. */
      readonly servers: readonly string[] | null
    }
  | { readonly kind: 'etcd'; readonly prefix: string }

export interface KeepaliveConfig {
  readonly maxConnections: number
  readonly idleTimeoutMs: number
}

export interface UpstreamConfig {
  readonly name: string
  readonly balancer: BalancerName
  /** Set when `balancer` is `consistent-hash` (defaults to client-ip there), else null. */
  readonly hashKey: HashKey | null
  readonly targets: readonly TargetConfig[]
  readonly healthCheck: HealthCheckConfig | null
  readonly outlier: OutlierConfig | null
  readonly discovery: DiscoveryConfig | null
  readonly keepalive: KeepaliveConfig
  /** `defaults.timeouts` overridden by the upstream's own. */
  readonly timeouts: TimeoutsConfig
}

export type RouteMatch = {
  readonly methods: readonly string[] | null
  /** Lower-cased; `*.example.com` wildcards kept as written. */
  readonly hosts: readonly string[] | null
  /** Header names lower-cased; values compared exactly. */
  readonly headers: Readonly<Record<string, string>> | null
} & (
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'prefix'; readonly prefix: string }
  | { readonly kind: 'regex'; readonly regex: string }
)

export interface SplitBackend {
  readonly upstream: string
  readonly weight: number
}

export type RouteAction =
  | { readonly kind: 'forward'; readonly upstream: string }
  | { readonly kind: 'split'; readonly backends: readonly SplitBackend[] }
  | {
      readonly kind: 'respond'
      readonly status: number
      readonly body: string
      readonly headers: Readonly<Record<string, string>>
    }
  | {
      readonly kind: 'redirect'
      /** Target; may contain `{path}`, `{query}`, `{uri}` (path + query) and `{host}`. */
      readonly location: string
      readonly status: 301 | 302 | 303 | 307 | 308
    }

export interface RewriteConfig {
  readonly stripPrefix: string | null
  readonly addPrefix: string | null
  /** `[pattern, replacement]`; replacement uses `$1`-style groups. */
  readonly regex: readonly [string, string] | null
  readonly host: string | null
}

export interface HeaderOps {
  readonly set: Readonly<Record<string, string>>
  readonly add: Readonly<Record<string, string>>
  readonly remove: readonly string[]
}

export interface RouteConfig {
  readonly name: string
  readonly match: RouteMatch
  readonly action: RouteAction
  readonly rewrite: RewriteConfig | null
  readonly headers: { readonly request: HeaderOps | null; readonly response: HeaderOps | null }
  /** `defaults.retries` overridden by the route's own. */
  readonly retries: RetriesConfig
  /** Route-level timeout overrides (applied over the upstream's), or null. */
  readonly timeouts: Partial<TimeoutsConfig> | null
  /** `defaults.limits.max_body_bytes` unless the route sets `limits.max_body_bytes`. */
  readonly maxBodyBytes: number
}

export type StickyKey =
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string }
  | { readonly kind: 'client-ip' }

export interface RolloutConfig {
  readonly canaryPercent: number
  readonly windowMs: number
  readonly maxErrorRate: number
  readonly minRequests: number
  readonly sticky: StickyKey | null
}

export interface EtcdConfig {
  readonly endpoints: readonly string[]
}

/** A whole normalised config document. */
export interface GatewayConfig {
  readonly listeners: readonly ListenerConfig[]
  readonly admin: AdminConfig | null
  readonly limits: LimitsConfig
  readonly drainTimeoutMs: number
  /** In config order; names unique. */
  readonly upstreams: readonly UpstreamConfig[]
  /** In config order; names unique. */
  readonly routes: readonly RouteConfig[]
  readonly etcd: EtcdConfig | null
  readonly rollout: RolloutConfig | null
}
