/**
 * Hop-by-hop header handling (RFC 9110 §7.6.1): Connection, every header it names, and the
 * fixed list below are meaningful for one connection only and are never forwarded.
 */

/** Lower-case names that never cross the proxy, either way. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** Connection tokens that name no header (RFC 9112 §9.6) and need no extra stripping. */
const PLAIN_TOKENS: ReadonlySet<string> = new Set(['close', 'keep-alive', 'upgrade'])

/**
 * The header names listed in a Connection value that are not plain options; `null` when there
 * are none (the common case, so the caller can skip a second pass).
 */
export function connectionNamedHeaders(value: string | undefined): Set<string> | null {
  // hot path: almost every client sends nothing, `keep-alive` or `close`; no split for those
  if (value === undefined || PLAIN_TOKENS.has(value) || PLAIN_TOKENS.has(value.toLowerCase())) {
    return null
  }
  let names: Set<string> | null = null
  for (const raw of value.split(',')) {
    const token = raw.trim().toLowerCase()
    if (token === '' || PLAIN_TOKENS.has(token)) continue
    names ??= new Set()
    names.add(token)
  }
  return names
}

/** Removes from a flat `[name, value, …]` list every pair whose lower-cased name is in `names`. */
export function removeNamed(flat: string[], names: ReadonlySet<string>): string[] {
  const out: string[] = []
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string
    if (!names.has(name.toLowerCase())) out.push(name, flat[i + 1] as string)
  }
  return out
}
