/**
 * Cross-field rules the schema cannot express: references resolve, names and addresses are
 * unique, a route has exactly one match kind and one action, an exposed admin API has a token.
 * Runs only on a structurally valid document, so every format here is known to parse.
 */
import { isIP } from 'node:net'
import type { ConfigPath, Finding, PathKey } from './config-path.ts'
import { formatConfigPath } from './config-path.ts'
import { DEFAULTS } from './defaults.ts'
import { expectValid, isLoopback, parseAddress, parseDuration, parseOriginUrl } from './formats.ts'
import type { RawConfigDocument, RawRoute, RawUpstream } from './schema.ts'
import { closestMatch } from './suggest.ts'
import type { ListenAddress } from './types.ts'

/** What the rules may know beyond the document. */
export interface SemanticContext {
  /** An etcd cluster is given outside the document (fleet mode's `--etcd`). */
  readonly etcdCluster?: boolean
}

/** Every semantic problem of a structurally valid document. */
export function checkSemantics(doc: RawConfigDocument, context: SemanticContext = {}): Finding[] {
  return [
    ...checkListeners(doc),
    ...checkUpstreams(doc),
    ...checkRoutes(doc),
    ...checkEtcdCluster(doc, context),
  ]
}

/** etcd discovery reads from the document's `etcd.endpoints`, or fleet mode's cluster. */
function checkEtcdCluster(doc: RawConfigDocument, context: SemanticContext): Finding[] {
  if (doc.etcd !== undefined || context.etcdCluster === true) return []
  return Object.entries(doc.upstreams ?? {})
    .filter(([, upstream]) => upstream.discovery?.etcd !== undefined)
    .map(([name]) => ({
      path: ['upstreams', name, 'discovery', 'etcd'],
      message:
        'etcd discovery needs a cluster: set the top-level etcd.endpoints (or run in fleet mode, hitless run --etcd)',
    }))
}

interface Named {
  readonly name: string
  /** Where the name is written, or the item itself when the name is a default. */
  readonly path: ConfigPath
}

function duplicateNames(items: readonly Named[], kind: string): Finding[] {
  const first = new Map<string, ConfigPath>()
  const findings: Finding[] = []
  for (const item of items) {
    const earlier = first.get(item.name)
    if (earlier === undefined) first.set(item.name, item.path)
    else {
      const message = `duplicate ${kind} name "${item.name}" (first used at ${formatConfigPath(earlier)})`
      findings.push({ path: item.path, message })
    }
  }
  return findings
}

function address(text: string): ListenAddress {
  return expectValid(parseAddress(text), 'address')
}

function checkListeners(doc: RawConfigDocument): Finding[] {
  const names = doc.listeners.map((l, i): Named => ({
    name: l.name ?? `listener-${i}`,
    path: l.name === undefined ? ['listeners', i] : ['listeners', i, 'name'],
  }))
  const sockets = doc.listeners.map((l, i) => ({
    address: address(l.address),
    path: ['listeners', i, 'address'] as ConfigPath,
  }))
  if (doc.admin !== undefined)
    sockets.push({ address: address(doc.admin.address), path: ['admin', 'address'] })
  return [...duplicateNames(names, 'listener'), ...addressClashes(sockets), ...checkAdmin(doc)]
}

function addressClashes(
  sockets: ReadonlyArray<{ address: ListenAddress; path: ConfigPath }>,
): Finding[] {
  const findings: Finding[] = []
  sockets.forEach((socket, i) => {
    const other = sockets.slice(0, i).find((s) => overlaps(s.address, socket.address))
    if (other !== undefined) {
      findings.push({
        path: socket.path,
        message: `address conflicts with ${formatConfigPath(other.path)}`,
      })
    }
  })
  return findings
}

/**
 * Whether two sockets cannot both be bound. Port 0 never clashes (each bind gets its own free
 * port); `0.0.0.0` covers every IPv4 host and `::` every host (dual-stack, the Linux default).
 */
export function overlaps(a: ListenAddress, b: ListenAddress): boolean {
  if (a.kind === 'unix' || b.kind === 'unix') {
    return a.kind === 'unix' && b.kind === 'unix' && a.path === b.path
  }
  if (a.port !== b.port || a.port === 0) return false
  return a.host === b.host || covers(a.host, b.host) || covers(b.host, a.host)
}

function covers(wildcard: string, host: string): boolean {
  return wildcard === '::' || (wildcard === '0.0.0.0' && isIP(host) !== 6)
}

function checkAdmin(doc: RawConfigDocument): Finding[] {
  const admin = doc.admin
  if (admin === undefined || admin.token_env !== undefined || isLoopback(address(admin.address))) {
    return []
  }
  const message =
    'a non-loopback admin address requires token_env (the environment variable holding the bearer token)'
  return [{ path: ['admin', 'address'], message }]
}

function checkUpstreams(doc: RawConfigDocument): Finding[] {
  return Object.entries(doc.upstreams ?? {}).flatMap(([name, upstream]) => [
    ...checkTargets(upstream, ['upstreams', name]),
    ...checkUpstreamOptions(upstream, ['upstreams', name]),
  ])
}

function checkTargets(upstream: RawUpstream, base: PathKey[]): Finding[] {
  const { targets, discovery } = upstream
  if (discovery !== undefined) {
    const kinds = (['dns', 'etcd'] as const).filter((k) => discovery[k] !== undefined)
    if (kinds.length === 1) return []
    const found = kinds.length === 0 ? 'none' : kinds.join(', ')
    return [
      {
        path: [...base, 'discovery'],
        message: `exactly one of dns or etcd is required (found ${found})`,
      },
    ]
  }
  if (targets === undefined)
    return [{ path: base, message: 'an upstream needs targets or discovery' }]
  if (targets.length === 0) {
    return [{ path: [...base, 'targets'], message: 'must not be empty unless discovery is set' }]
  }
  return duplicateTargets(targets, base)
}

function duplicateTargets(
  targets: NonNullable<RawUpstream['targets']>,
  base: PathKey[],
): Finding[] {
  const first = new Map<string, number>()
  const findings: Finding[] = []
  targets.forEach((target, i) => {
    const origin = parseOriginUrl(target.url)
    const key = origin.ok ? origin.value : target.url
    const earlier = first.get(key)
    if (earlier === undefined) first.set(key, i)
    else {
      const message = `duplicate target ${key} (same as targets[${earlier}])`
      findings.push({ path: [...base, 'targets', i, 'url'], message })
    }
  })
  return findings
}

function checkUpstreamOptions(upstream: RawUpstream, base: PathKey[]): Finding[] {
  const findings: Finding[] = []
  const balancer = upstream.balancer ?? DEFAULTS.balancer
  if (upstream.hash_key !== undefined && balancer !== 'consistent-hash') {
    const message = `hash_key only applies to balancer consistent-hash (this upstream uses ${balancer})`
    findings.push({ path: [...base, 'hash_key'], message })
  }
  const hc = upstream.health_check
  if (hc !== undefined) {
    const interval = hc.interval ?? DEFAULTS.health_check.interval
    const timeout = hc.timeout ?? DEFAULTS.health_check.timeout
    if (ms(timeout) > ms(interval)) {
      const path = [...base, 'health_check', hc.timeout === undefined ? 'interval' : 'timeout']
      findings.push({
        path,
        message: `health check timeout ${timeout} exceeds its interval ${interval}`,
      })
    }
  }
  return findings
}

function ms(duration: string): number {
  return expectValid(parseDuration(duration), 'duration')
}

function checkRoutes(doc: RawConfigDocument): Finding[] {
  const routes = doc.routes ?? []
  const upstreams = Object.keys(doc.upstreams ?? {})
  const names = routes.map((r, i): Named => ({
    name: r.name ?? `route-${i}`,
    path: r.name === undefined ? ['routes', i] : ['routes', i, 'name'],
  }))
  return [
    ...duplicateNames(names, 'route'),
    ...routes.flatMap((route, i) => checkRoute(route, ['routes', i], upstreams)),
  ]
}

function checkRoute(route: RawRoute, base: PathKey[], upstreams: readonly string[]): Finding[] {
  return [
    ...exactlyOne(route.match, ['path', 'prefix', 'regex'], [...base, 'match'], 'a match kind'),
    ...exactlyOne(route, ['upstream', 'split', 'respond', 'redirect'], base, 'an action'),
    ...upstreamRefs(route, base, upstreams),
    ...respondBody(route, base),
    ...caseClashes(route, base),
  ]
}

function exactlyOne<T extends object>(
  obj: T,
  keys: ReadonlyArray<keyof T & string>,
  path: PathKey[],
  what: string,
): Finding[] {
  const found = keys.filter((k) => obj[k] !== undefined)
  if (found.length === 1) return []
  const list = `${keys.slice(0, -1).join(', ')} or ${keys.at(-1) ?? ''}`
  const message =
    found.length === 0
      ? `${what} is required: one of ${list}`
      : `only one of ${list} is allowed (found ${found.join(', ')})`
  return [{ path, message }]
}

function upstreamRefs(route: RawRoute, base: PathKey[], upstreams: readonly string[]): Finding[] {
  const refs: Array<{ name: string; path: PathKey[] }> = []
  if (route.upstream !== undefined) refs.push({ name: route.upstream, path: [...base, 'upstream'] })
  route.split?.forEach((b, k) =>
    refs.push({ name: b.upstream, path: [...base, 'split', k, 'upstream'] }),
  )
  return refs
    .filter((ref) => !upstreams.includes(ref.name))
    .map((ref) => ({
      path: ref.path,
      message: `unknown upstream "${ref.name}"`,
      hint: closestMatch(ref.name, upstreams),
    }))
}

// RFC 9110 §15.3.5 / §15.4.5: 204 and 304 responses end at the header section.
function respondBody(route: RawRoute, base: PathKey[]): Finding[] {
  const status = route.respond?.status
  if ((status === 204 || status === 304) && (route.respond?.body ?? '') !== '') {
    return [
      { path: [...base, 'respond', 'body'], message: `a ${status} response cannot have a body` },
    ]
  }
  return []
}

function caseClashes(route: RawRoute, base: PathKey[]): Finding[] {
  // Per route of a 10,000-route reload: paths are built only for maps that exist.
  const findings: Finding[] = []
  const check = (map: Record<string, string> | undefined, ...path: PathKey[]): void => {
    if (map !== undefined) findings.push(...headerCaseClashes(map, [...base, ...path]))
  }
  check(route.match.headers, 'match', 'headers')
  check(route.respond?.headers, 'respond', 'headers')
  for (const side of ['request', 'response'] as const) {
    const ops = route.headers?.[side]
    if (ops === undefined) continue
    check(ops.set, 'headers', side, 'set')
    check(ops.add, 'headers', side, 'add')
  }
  return findings
}

/** Header names that differ only in case: after lower-casing one would silently replace the other. */
function headerCaseClashes(map: Record<string, string> | undefined, path: PathKey[]): Finding[] {
  const seen = new Map<string, string>()
  const findings: Finding[] = []
  for (const name of Object.keys(map ?? {})) {
    const lower = name.toLowerCase()
    const earlier = seen.get(lower)
    if (earlier === undefined) seen.set(lower, name)
    else {
      const message = `header "${name}" repeats "${earlier}" (header names are case-insensitive)`
      findings.push({ path: [...path, name], message, at: 'key' })
    }
  }
  return findings
}
