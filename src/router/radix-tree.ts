/**
 * Exact and segment-aware prefix matching of normalised paths: a hash of exact paths, and a tree
 * of prefixes with one edge per path segment, walked once down the path and back up for the
 * longest match first. Built once, then read only; a lookup costs one step per segment of the
 * path, whatever the number of routes.
 */

import { firstAccepted } from './constraints.ts'
import type { ConstraintInput, GuardedRoute } from './constraints.ts'

const SLASH = 0x2f
const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193
// keeps hashes in V8's small-integer range: a Map key outside it would be boxed on every lookup
const SMI_MASK = 0x3fffffff

/** One node of the prefix tree; its key is `/` + the labels from the root down, joined by `/`. */
class SegmentNode<T> {
  /** The segment this node adds (no slash; may be empty, `//` is significant). */
  readonly label: string
  readonly parent: SegmentNode<T> | null
  /** Keyed by the hash of the child's label; labels that collide are chained through `next`. */
  readonly children = new Map<number, SegmentNode<T>>()
  next: SegmentNode<T> | undefined = undefined
  /** Routes of the prefix equal to this key (`/api`), config order; null if none. */
  routes: GuardedRoute<T>[] | null = null
  /** Routes of the prefix equal to this key plus `/` (`/api/`), config order; null if none. */
  slashRoutes: GuardedRoute<T>[] | null = null

  constructor(label: string, parent: SegmentNode<T> | null) {
    this.label = label
    this.parent = parent
  }
}

/** An exact path or a prefix, with its route; the order of a list of them is config order. */
export interface PathRoute<T> {
  readonly path: string
  readonly route: GuardedRoute<T>
}

/** Exact + prefix matcher; see `createPathTree`. */
export class PathTree<T> {
  readonly #exact = new Map<string, GuardedRoute<T>[]>()
  readonly #root = new SegmentNode<T>('', null)

  constructor(exact: readonly PathRoute<T>[], prefixes: readonly PathRoute<T>[]) {
    for (const { path, route } of exact) {
      const list = this.#exact.get(path)
      if (list === undefined) this.#exact.set(path, [route])
      else list.push(route)
    }
    for (const { path, route } of prefixes) {
      // `/api/` is stored on the node of `/api`, as its routes for "and something below"
      const slash = path.endsWith('/')
      const node = this.#insert(slash ? path.slice(0, -1) : path)
      if (slash) (node.slashRoutes ??= []).push(route)
      else (node.routes ??= []).push(route)
    }
  }

  /** The first route (config order) with exactly this path whose constraints accept `req`. */
  findExact(path: string, req: ConstraintInput): GuardedRoute<T> | undefined {
    const routes = this.#exact.get(path)
    return routes === undefined ? undefined : firstAccepted(routes, req)
  }

  /**
   * The route of the longest prefix of `path` that ends on a segment boundary (SPEC §3: `/api`
   * covers `/api` and `/api/x`, not `/apiary`; `/api/` covers what is below `/api/`) and has a
   * route accepting `req`. When every route of the longest prefix refuses the request, the next
   * longest is tried, and so on up to `/`.
   */
  findPrefix(path: string, req: ConstraintInput): GuardedRoute<T> | undefined {
    // hot path: walk the segments by index, hashing each one's characters in the same loop that
    // finds its end, so no substring, split array or per-segment string is allocated
    const length = path.length
    let node = this.#root
    let pos = 0
    while (pos < length && node.children.size > 0) {
      const start = pos + 1
      let end = start
      let hash = FNV_OFFSET
      for (; end < length; end++) {
        const c = path.charCodeAt(end)
        if (c === SLASH) break
        hash = Math.imul(hash ^ c, FNV_PRIME)
      }
      let child = node.children.get(hash & SMI_MASK)
      while (child !== undefined && !sameSegment(child.label, path, start, end)) child = child.next
      if (child === undefined) break
      node = child
      pos = end
    }
    // segment edges make every node on the way a prefix ending on a boundary; climb back up,
    // longest first: `/api/` (the path goes on after the node) before `/api`
    let goesOn = pos < length
    for (let at: SegmentNode<T> | null = node; at !== null; at = at.parent) {
      if (goesOn && at.slashRoutes !== null) {
        const hit = firstAccepted(at.slashRoutes, req)
        if (hit !== undefined) return hit
      }
      if (at.routes !== null) {
        const hit = firstAccepted(at.routes, req)
        if (hit !== undefined) return hit
      }
      goesOn = true
    }
    return undefined
  }

  /** The node whose key is `key` (`''` or `/`-led), adding the missing nodes on the way. */
  #insert(key: string): SegmentNode<T> {
    let node = this.#root
    let pos = 0
    while (pos < key.length) {
      const start = pos + 1
      const slash = key.indexOf('/', start)
      const end = slash === -1 ? key.length : slash
      const label = key.slice(start, end)
      const hash = hashSegment(label)
      let child = node.children.get(hash)
      while (child !== undefined && child.label !== label) child = child.next
      if (child === undefined) {
        child = new SegmentNode(label, node)
        child.next = node.children.get(hash)
        node.children.set(hash, child)
      }
      node = child
      pos = end
    }
    return node
  }
}

/**
 * Builds the matcher once from exact paths and prefixes, each list in config order. Paths are
 * compared as given (case-sensitive, `//` significant), so they should already be normalised.
 */
export function createPathTree<T>(
  exact: readonly PathRoute<T>[],
  prefixes: readonly PathRoute<T>[],
): PathTree<T> {
  return new PathTree(exact, prefixes)
}

/** FNV-1a over UTF-16 code units, as `findPrefix` computes it inline. */
function hashSegment(label: string): number {
  let hash = FNV_OFFSET
  for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), FNV_PRIME)
  return hash & SMI_MASK
}

function sameSegment(label: string, path: string, start: number, end: number): boolean {
  return label.length === end - start && path.startsWith(label, start)
}
