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
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  // JSON.stringify would return undefined (despite its type) for these; JSON arrays say null.
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return 'null'
  return JSON.stringify(value)
}

/** Length of a version id: 12 hex digits (48 bits), enough for a history of 20 and short to read. */
export const VERSION_LENGTH = 12

/** The version id of a config: the first 12 hex digits of the sha256 of its canonical JSON. */
export function versionOf(config: GatewayConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, VERSION_LENGTH)
}
