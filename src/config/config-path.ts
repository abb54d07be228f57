/**
 * Config paths (`routes[2].match.regex`) and the located finding every check produces before it
 * becomes a `ConfigIssue` with `line:column`.
 */

/** One step of a path: a mapping key or a list index. */
export type PathKey = string | number

/** A path from the document root to a node, as a list of keys and indices. */
export type ConfigPath = readonly PathKey[]

/** A problem found at a path; `at: 'key'` points the position at the key instead of its value. */
export interface Finding {
  readonly path: ConfigPath
  readonly message: string
  readonly hint?: string | undefined
  readonly at?: 'key' | 'value'
}

const PLAIN_KEY = /^[\w-]+$/

/**
 * Formats a path the way users read it: `upstreams.users.targets[0].url`. Keys that are not
 * plain words (a dot, a space, a bracket) are quoted, `headers["x.y"]`, so the path stays
 * unambiguous.
 */
export function formatConfigPath(path: ConfigPath): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else if (PLAIN_KEY.test(key)) out += out === '' ? key : `.${key}`
    else out += `[${JSON.stringify(key)}]`
  }
  return out
}

/** True when `path` is `prefix` or lies below it. */
export function isWithin(path: ConfigPath, prefix: ConfigPath): boolean {
  return prefix.length <= path.length && prefix.every((key, i) => path[i] === key)
}
