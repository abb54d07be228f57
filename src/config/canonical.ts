/**
 * The canonical form of a normalised config (JSON with sorted keys, no whitespace) and the
 * version id derived from it: equal configs get equal ids whatever their key order or spelling.
 */
import { createHash } from 'node:crypto'
import type { GatewayConfig } from './types.ts'

/**
 * JSON with object keys sorted at every level and array order kept. Keys whose value is
 * `undefined` are left out, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = []
  write(value, parts)
  return parts.join('')
}

// One parts array for the whole document: the recursive map/join version allocated a string
// per level and spent ~30 % of a 10,000-route load in GC (bench/RESULTS.md, "Hot reload").
function write(value: unknown, parts: string[]): void {
  if (Array.isArray(value)) {
    parts.push('[')
    for (let i = 0; i < value.length; i++) {
      if (i > 0) parts.push(',')
      write(value[i], parts)
    }
    parts.push(']')
    return
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    // Default sort compares UTF-16 code units, the same order as `a < b` on strings.
    const keys = Object.keys(record).sort()
    parts.push('{')
    let first = true
    for (const key of keys) {
      const item = record[key]
      if (item === undefined) continue
      parts.push(first ? '' : ',', JSON.stringify(key), ':')
      first = false
      write(item, parts)
    }
    parts.push('}')
    return
  }
  // JSON.stringify would return undefined (despite its type) for these; JSON arrays say null.
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    parts.push('null')
    return
  }
  parts.push(JSON.stringify(value))
}

/** Length of a version id: 12 hex digits (48 bits), enough for a history of 20 and short to read. */
export const VERSION_LENGTH = 12

/**
 * The version id of a normalised config: the first 12 hex digits of the sha256 of its JSON.
 * `normalizeConfig` builds every object with a fixed key order and sorts user-keyed maps, so
 * that JSON is already canonical; JSON.stringify is native and ~10× faster than
 * `canonicalJson` on a 10,000-route config (bench/RESULTS.md, "Hot reload").
 */
export function versionOf(config: GatewayConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, VERSION_LENGTH)
}
