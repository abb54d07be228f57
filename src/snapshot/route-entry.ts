/**
 * The per-route record the data plane reads: everything a route needs at request time,
 * compiled once when the snapshot is built (header rules, rewrites, retry sets, timeouts,
 * metric recorders). Optional stages are `null` when unused, so the hot path tests one field.
 */
import type { OutlierDetector } from '../upstream/outlier.ts'
import type { Balancer, Pickable } from '../upstream/balancers/balancer.ts'
import type { TargetState } from '../upstream/target-state.ts'
import type { DiscoverySource } from '../discovery/source.ts'
import type { Pool } from 'undici'
import type { RouteRecorder } from '../metrics/metrics.ts'
import type { HashKey, HeaderOps, RewriteConfig, TimeoutsConfig } from '../config/types.ts'

/** One target as a snapshot sees it: config (weight) plus the registry's live state and pool. */
export class TargetRef implements Pickable {
  readonly key: string
  /** From the config, or from discovery (which may change it in place: see upstream-runtime). */
  weight: number
  readonly state: TargetState
  readonly pool: Pool

  constructor(weight: number, state: TargetState, pool: Pool) {
    this.key = state.origin
    this.weight = weight
    this.state = state
    this.pool = pool
  }

  get inFlight(): number {
    return this.state.inFlight
  }

  get available(): boolean {
    return this.state.available
  }
}

/**
 * An upstream compiled for one snapshot. Its target list, balancer and outlier detector are
 * replaced together (one synchronous step) when discovery changes the targets; a request reads
 * them when it picks a target, so it always sees one consistent set.
 */
export interface UpstreamRuntime {
  readonly name: string
  readonly targets: readonly TargetRef[]
  readonly balancer: Balancer<TargetRef>
  readonly hashKey: HashKey | null
  /** Passive outlier detection, when the upstream has `outlier`. */
  readonly outlier: OutlierDetector | null
  /** Where the targets come from when the upstream has `discovery`, else null. */
  readonly discovery: DiscoverySource | null
  /** The snapshot is gone: release the targets' pools and states, stop following discovery. */
  dispose(): void
}

/** Where a forwarding route sends a request, with that pair's effective timeouts and metrics. */
export interface Backend {
  readonly upstream: UpstreamRuntime
  readonly timeouts: TimeoutsConfig
  readonly recorder: RouteRecorder
}

/** Header rules compiled: names to drop while copying, then pairs to append. */
export interface CompiledHeaderOps {
  /** Lower-case names removed from the message, including every name in `set`. */
  readonly remove: ReadonlySet<string>
  /** Flat `[name, value, name, value, …]` appended after the copy (`set` then `add`). */
  readonly append: readonly string[]
}

export interface CompiledRewrite {
  readonly stripPrefix: string | null
  readonly regex: RegExp | null
  readonly replacement: string
  readonly addPrefix: string | null
  readonly host: string | null
}

export type RedirectPart = string | { readonly placeholder: 'path' | 'query' | 'uri' | 'host' }

export type CompiledAction =
  | { readonly kind: 'forward'; readonly backend: Backend }
  | {
      readonly kind: 'split'
      /** Cumulative weights, ascending; pick the first whose bound exceeds r × total. */
      readonly backends: readonly { readonly backend: Backend; readonly bound: number }[]
      readonly total: number
    }
  | {
      readonly kind: 'respond'
      readonly status: number
      readonly body: Buffer
      /** Flat header pairs, content-length included. */
      readonly headers: readonly string[]
      readonly recorder: RouteRecorder
    }
  | {
      readonly kind: 'redirect'
      readonly status: number
      readonly parts: readonly RedirectPart[]
      readonly recorder: RouteRecorder
    }

export interface CompiledRetries {
  readonly attempts: number
  readonly on: ReadonlySet<string>
  readonly nonIdempotent: boolean
}

export interface RouteEntry {
  readonly name: string
  readonly action: CompiledAction
  readonly rewrite: CompiledRewrite | null
  readonly requestHeaders: CompiledHeaderOps | null
  readonly responseHeaders: CompiledHeaderOps | null
  readonly retries: CompiledRetries
  readonly maxBodyBytes: number
}

/** Compiles header set/add/remove; `null` when the rules are empty. */
export function compileHeaderOps(ops: HeaderOps | null): CompiledHeaderOps | null {
  if (ops === null) return null
  const remove = new Set(ops.remove.map((n) => n.toLowerCase()))
  const append: string[] = []
  for (const [name, value] of Object.entries(ops.set)) {
    remove.add(name.toLowerCase())
    append.push(name, value)
  }
  for (const [name, value] of Object.entries(ops.add)) append.push(name, value)
  if (remove.size === 0 && append.length === 0) return null
  return { remove, append }
}

/** Compiles a route's rewrite; `null` when it changes nothing. */
export function compileRewrite(rewrite: RewriteConfig | null): CompiledRewrite | null {
  if (rewrite === null) return null
  const { stripPrefix, addPrefix, regex, host } = rewrite
  if (stripPrefix === null && addPrefix === null && regex === null && host === null) return null
  return {
    stripPrefix: stripPrefix === null ? null : stripPrefix.replace(/\/+$/, ''),
    regex: regex === null ? null : new RegExp(regex[0]),
    replacement: regex === null ? '' : regex[1],
    addPrefix: addPrefix === null ? null : addPrefix.replace(/\/+$/, ''),
    host,
  }
}

/** Splits a redirect location into literal text and `{path}`-style placeholders. */
export function compileRedirect(location: string): RedirectPart[] {
  const parts: RedirectPart[] = []
  const re = /\{(path|query|uri|host)\}/g
  let last = 0
  for (let m = re.exec(location); m !== null; m = re.exec(location)) {
    if (m.index > last) parts.push(location.slice(last, m.index))
    parts.push({ placeholder: m[1] as 'path' | 'query' | 'uri' | 'host' })
    last = m.index + m[0].length
  }
  if (last < location.length) parts.push(location.slice(last))
  return parts
}
