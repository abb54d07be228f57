/**
 * The version id of a normalised config: equal configs get equal ids whatever the key order,
 * quoting, syntax or duration spelling of the document they came from.
 */
import { createHash } from 'node:crypto'
import type { GatewayConfig } from './types.ts'

/** Length of a version id: 12 hex digits (48 bits), enough for a history of 20 and short to read. */
export const VERSION_LENGTH = 12

/**
 * The version id of a normalised config: the first 12 hex digits of the sha256 of its JSON.
 * `normalizeConfig` builds every object with a fixed key order and sorts user-keyed maps, so
 * that JSON is already canonical; JSON.stringify is native and ~10× faster than the sorted-key
 * serialiser it replaced on a 10,000-route config (bench/RESULTS.md, "Hot reload").
 */
export function versionOf(config: GatewayConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, VERSION_LENGTH)
}
