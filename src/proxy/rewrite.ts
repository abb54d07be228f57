/**
 * Applies a route's compiled rewrite to the normalised path: strip_prefix, then the regex,
 * then add_prefix (in that order, documented in docs/config.md). The query is left untouched.
 */
import type { CompiledRewrite } from '../snapshot/route-entry.ts'

/** The upstream path for `path` under `rewrite`. */
export function rewritePath(path: string, rewrite: CompiledRewrite): string {
  let out = path
  const strip = rewrite.stripPrefix
  if (strip !== null && strip !== '' && out.startsWith(strip)) {
    // Segment-aware, like prefix matching: /api strips from /api and /api/x, not /apiary.
    const rest = out.slice(strip.length)
    if (rest === '' || rest.startsWith('/')) out = rest === '' ? '/' : rest
  }
  if (rewrite.regex !== null) out = out.replace(rewrite.regex, rewrite.replacement)
  if (rewrite.addPrefix !== null && rewrite.addPrefix !== '') {
    out = out === '/' ? `${rewrite.addPrefix}/` : `${rewrite.addPrefix}${out}`
  }
  return out.startsWith('/') ? out : `/${out}`
}
