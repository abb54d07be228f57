/**
 * The last level of matching: regex routes, tried in config order against the normalised path.
 * Patterns are compiled once when the router is built; nothing is compiled per request.
 */

import type { ConstraintInput, GuardedRoute } from './constraints.ts'

/** A regex route as configured: the pattern source and the route it leads to. */
export interface RegexRoute<T> {
  readonly regex: string
  readonly route: GuardedRoute<T>
}

/** Ordered regex matcher; see `createRegexRoutes`. */
export class RegexRoutes<T> {
  readonly #patterns: readonly RegExp[]
  readonly #routes: readonly GuardedRoute<T>[]

  constructor(routes: readonly RegexRoute<T>[]) {
    // no flags: `g`/`y` would make test() stateful through lastIndex, and the source is used as
    // written, with the same syntax the config validator compiled it with; not anchored unless
    // the pattern itself says so (`^…$`), like nginx's `location ~`
    this.#patterns = routes.map((r) => new RegExp(r.regex))
    this.#routes = routes.map((r) => r.route)
  }

  /** The first route in config order whose pattern matches `path` and constraints accept `req`. */
  find(path: string, req: ConstraintInput): GuardedRoute<T> | undefined {
    for (let i = 0; i < this.#routes.length; i++) {
      const route = this.#routes[i] as GuardedRoute<T>
      // hot path: the constraints are a few Set lookups, a regex may scan the whole path, so the
      // cheap test goes first; both must hold, the order changes only the cost
      if (route.constraints !== null && !route.constraints.matches(req)) continue
      if ((this.#patterns[i] as RegExp).test(path)) return route
    }
    return undefined
  }
}

/**
 * Compiles the regex routes once, in config order. Throws a `SyntaxError` on a pattern that does
 * not compile (control plane; config validation rejects those first).
 */
export function createRegexRoutes<T>(routes: readonly RegexRoute<T>[]): RegexRoutes<T> {
  return new RegexRoutes(routes)
}
