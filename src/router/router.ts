/**
 * The router: built once per snapshot from the routes in config order, then only looked up.
 * SPEC §3 precedence: exact path, then the longest segment-aware prefix, then regexes in config
 * order; constraints (methods, hosts, headers) that refuse a request make it fall through.
 * Pure: no Node imports, no I/O.
 */

import type { RouteMatch } from '../config/types.ts'
import { compileConstraints } from './constraints.ts'
import type { ConstraintInput, GuardedRoute } from './constraints.ts'
import { normalizePath } from './normalize-path.ts'
import { createPathTree } from './radix-tree.ts'
import type { PathRoute, PathTree } from './radix-tree.ts'
import { createRegexRoutes } from './regex-routes.ts'
import type { RegexRoute, RegexRoutes } from './regex-routes.ts'

/** One route as the router sees it: what to match, and what to hand back when it matches. */
export interface RouteSpec<T> {
  readonly match: RouteMatch
  readonly data: T
}

/** What the router needs from a request; built by the proxy from node's `req`. */
export interface RequestView extends ConstraintInput {
  /** Upper-case, as received. */
  readonly method: string
  /** Hostname from `Host` (or the absolute-form authority), lower-cased, port stripped; `''` if none. */
  readonly host: string
  /** Already normalised by `normalizePath`; the query is not part of it. */
  readonly path: string
  /** Node's `req.headers` (lower-case names). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

/** A built router; immutable, safe to share by every request of a snapshot. */
export interface Router<T> {
  /** The data of the route that wins for this request, or undefined (the gateway answers 404). */
  lookup(req: RequestView): T | undefined
}

class TieredRouter<T> implements Router<T> {
  readonly #paths: PathTree<T>
  readonly #regexes: RegexRoutes<T>

  constructor(paths: PathTree<T>, regexes: RegexRoutes<T>) {
    this.#paths = paths
    this.#regexes = regexes
  }

  lookup(req: RequestView): T | undefined {
    // hot path: each level returns the route record, not its data, so a route whose data is
    // itself undefined or null still counts as a match and stops the fall-through
    const path = req.path
    const hit =
      this.#paths.findExact(path, req) ??
      this.#paths.findPrefix(path, req) ??
      this.#regexes.find(path, req)
    return hit?.data
  }
}

/**
 * Builds a router from routes in config order; everything is compiled here, so `lookup` only
 * reads. Exact paths and prefixes from the config go through `normalizePath` (as request paths
 * do), so `/a/%7euser` in a config matches a request for `/a/~user`.
 * Throws an `Error` (control plane) on a path or prefix that does not start with `/`, carries a
 * query, or climbs above the root, and a `SyntaxError` on a regex that does not compile.
 */
export function createRouter<T>(specs: readonly RouteSpec<T>[]): Router<T> {
  const exact: PathRoute<T>[] = []
  const prefixes: PathRoute<T>[] = []
  const regexes: RegexRoute<T>[] = []
  specs.forEach((spec, index) => {
    const { match } = spec
    const route: GuardedRoute<T> = { constraints: compileConstraints(match), data: spec.data }
    switch (match.kind) {
      case 'path':
        exact.push({ path: toRoutePath(match.path, index, 'path'), route })
        break
      case 'prefix':
        prefixes.push({ path: toRoutePath(match.prefix, index, 'prefix'), route })
        break
      case 'regex':
        regexes.push({ regex: match.regex, route })
        break
    }
  })
  return new TieredRouter(createPathTree(exact, prefixes), createRegexRoutes(regexes))
}

function toRoutePath(value: string, index: number, key: 'path' | 'prefix'): string {
  const normalized = value.startsWith('/') ? normalizePath(value) : null
  if (normalized === null || normalized.query !== '') {
    throw new Error(
      `route ${String(index)}: match.${key} ${JSON.stringify(value)} is not an absolute path ` +
        'without query that stays below the root',
    )
  }
  return normalized.path
}
