/**
 * Per-route request constraints (methods, hosts, headers), compiled once when the router is
 * built and checked at a leaf: among candidates for one path, the first in config order whose
 * constraints all hold wins. Pure; the checks are on the hot path.
 */

import type { RouteMatch } from '../config/types.ts'

/** The parts of a request the constraints look at (the router's `RequestView` is a superset). */
export interface ConstraintInput {
  /** Upper-case, as received. */
  readonly method: string
  /** Lower-cased hostname, port stripped; `''` when the request has none. */
  readonly host: string
  /** Node's `req.headers`: lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

/** A route's data with its compiled constraints; `constraints` null means "any request". */
export interface GuardedRoute<T> {
  readonly constraints: Constraints | null
  readonly data: T
}

/** Compiled methods/hosts/headers checks for one route. Build with `compileConstraints`. */
export class Constraints {
  readonly #methods: ReadonlySet<string> | null
  readonly #hosts: ReadonlySet<string> | null
  /** `.example.com` for each `*.example.com`; only read when `#hosts` is not null. */
  readonly #hostSuffixes: readonly string[]
  readonly #headerNames: readonly string[] | null
  readonly #headerValues: readonly string[]

  constructor(match: Pick<RouteMatch, 'methods' | 'hosts' | 'headers'>) {
    this.#methods = match.methods === null ? null : compileMethods(match.methods)
    const exact: string[] = []
    const suffixes: string[] = []
    for (const pattern of match.hosts ?? []) {
      const host = pattern.toLowerCase()
      // only a leading `*.` is a wildcard; it needs at least one more label (not the apex)
      if (host.startsWith('*.')) suffixes.push(host.slice(1))
      else exact.push(host)
    }
    this.#hosts = match.hosts === null ? null : new Set(exact)
    this.#hostSuffixes = suffixes
    const headers = match.headers === null ? null : Object.entries(match.headers)
    this.#headerNames = headers === null ? null : headers.map(([name]) => name.toLowerCase())
    this.#headerValues = headers === null ? [] : headers.map(([, value]) => value)
  }

  /** Whether the request satisfies every constraint of the route. */
  matches(req: ConstraintInput): boolean {
    // hot path: cheapest check first; each is skipped with one null test when unconstrained.
    // Methods compare exactly: RFC 9110 §9.1 makes them case-sensitive, Node hands them upper-case
    if (this.#methods !== null && !this.#methods.has(req.method)) return false
    if (this.#hosts !== null && !this.#matchesHost(req.host)) return false
    return this.#headerNames === null || this.#matchesHeaders(this.#headerNames, req.headers)
  }

  #matchesHost(host: string): boolean {
    if (this.#hosts?.has(host) === true) return true
    for (const suffix of this.#hostSuffixes) {
      // `host.length > suffix.length` keeps `*.example.com` from matching `.example.com`
      if (host.length > suffix.length && host.endsWith(suffix)) return true
    }
    return false
  }

  #matchesHeaders(names: readonly string[], headers: ConstraintInput['headers']): boolean {
    for (let i = 0; i < names.length; i++) {
      const actual = headers[names[i] as string]
      const expected = this.#headerValues[i] as string
      if (actual === expected) continue
      // Node joins most repeated headers into one `a, b` string, which must equal the value
      // exactly; only those it keeps as arrays (set-cookie) arrive here: any element may match
      if (!Array.isArray(actual) || !actual.includes(expected)) return false
    }
    return true
  }
}

/**
 * Compiles a route's constraints once, at build time; null when the route has none (every
 * request matches), so the hot path pays a single null test for unconstrained routes.
 * Methods are upper-cased and a route that lists GET also accepts HEAD (RFC 9110 §9.3.2: HEAD is
 * GET without the content; nginx routes it the same way). Hosts are lower-cased; `*.example.com`
 * matches any deeper name (`a.example.com`, `a.b.example.com`), not `example.com`. An empty list
 * (`methods: []`, `hosts: []`) matches nothing.
 */
export function compileConstraints(
  match: Pick<RouteMatch, 'methods' | 'hosts' | 'headers'>,
): Constraints | null {
  if (match.methods === null && match.hosts === null && match.headers === null) return null
  return new Constraints(match)
}

/** The first route of `routes` (config order) whose constraints accept the request. */
export function firstAccepted<T>(
  routes: readonly GuardedRoute<T>[],
  req: ConstraintInput,
): GuardedRoute<T> | undefined {
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i] as GuardedRoute<T>
    if (route.constraints === null || route.constraints.matches(req)) return route
  }
  return undefined
}

function compileMethods(methods: readonly string[]): ReadonlySet<string> {
  const set = new Set(methods.map((m) => m.toUpperCase()))
  if (set.has('GET')) set.add('HEAD')
  return set
}
