/**
 * Builds the header list sent upstream: the client's headers minus hop-by-hop ones and the
 * route's removals, then Host, X-Forwarded-For/-Proto/-Host, X-Real-IP and X-Request-Id, then
 * the route's set/add rules. Output is undici's flat `[name, value, …]` form (no object).
 */
import { randomUUID } from 'node:crypto'
import type { CompiledHeaderOps } from '../snapshot/route-entry.ts'
import { HOP_BY_HOP, connectionNamedHeaders, removeNamed } from './hop-by-hop.ts'
import type { RequestHead } from './request-head.ts'

/** Headers the proxy itself writes, so the client's copies are never passed through. */
const OWN_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-real-ip',
  'x-request-id',
])

/** A new request id (UUID v4). */
export function newRequestId(): string {
  return randomUUID()
}

export interface ForwardInput {
  readonly rawHeaders: readonly string[]
  readonly head: RequestHead
  readonly clientIp: string
  readonly proto: 'http' | 'https'
  readonly requestId: string
  /** Host to send: the client's, unless the route rewrites it. */
  readonly hostHeader: string
  readonly ops: CompiledHeaderOps | null
}

/** The flat header list for the upstream request. */
export function buildUpstreamHeaders(input: ForwardInput): string[] {
  const { rawHeaders, head, ops } = input
  const removed = ops?.remove
  // A route that sets (or removes) Host itself decides it; otherwise it is preserved.
  const out: string[] = removed?.has('host') === true ? [] : ['host', input.hostHeader]
  // Names the client listed in Connection apply to the received message only (RFC 9110
  // §7.6.1): they are skipped while copying, never used against the headers we add below.
  const named = connectionNamedHeaders(head.connection)
  // hot path: one copy loop, one lower-casing per header
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string
    const lower = name.toLowerCase()
    if (HOP_BY_HOP.has(lower) || OWN_HEADERS.has(lower)) continue
    if (removed?.has(lower) === true || named?.has(lower) === true) continue
    out.push(name, rawHeaders[i + 1] as string)
  }
  const forwardedFor =
    head.forwardedFor === null ? input.clientIp : `${head.forwardedFor}, ${input.clientIp}`
  // hot path: no intermediate array; a route's `set`/`remove` of one of these names wins
  pushOwn(out, 'x-forwarded-for', forwardedFor, removed)
  pushOwn(out, 'x-forwarded-proto', input.proto, removed)
  pushOwn(out, 'x-forwarded-host', head.host, removed)
  pushOwn(out, 'x-real-ip', input.clientIp, removed)
  pushOwn(out, 'x-request-id', input.requestId, removed)
  if (ops !== null) for (const item of ops.append) out.push(item)
  return out
}

/**
 * Appends one of the gateway's own headers, unless the route removes or sets that name itself:
 * a route's `set` replaces the gateway's value and its `remove` drops it.
 */
function pushOwn(
  out: string[],
  name: string,
  value: string,
  removed: ReadonlySet<string> | undefined,
): void {
  if (removed?.has(name) !== true) out.push(name, value)
}

/**
 * The response header list for the client: the upstream's raw headers (Buffers, from undici)
 * minus hop-by-hop, Connection-named and removed names, plus X-Request-Id, the route's set/add
 * rules, and `connection: close` while draining.
 */
export function buildResponseHeaders(
  raw: readonly Buffer[],
  requestId: string,
  ops: CompiledHeaderOps | null,
  close: boolean,
): string[] {
  const out: string[] = []
  let connection: string | undefined
  const removed = ops?.remove
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1')
    const lower = name.toLowerCase()
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') connection = (raw[i + 1] as Buffer).toString('latin1')
      continue
    }
    if (lower === 'x-request-id' || removed?.has(lower) === true) continue
    out.push(name, (raw[i + 1] as Buffer).toString('latin1'))
  }
  // Connection-named headers are known only after the loop; dropping them here, before our own
  // headers are added, keeps an upstream from removing x-request-id or connection: close.
  const named = connectionNamedHeaders(connection)
  const kept = named === null ? out : removeNamed(out, named)
  pushOwn(kept, 'x-request-id', requestId, removed)
  if (ops !== null) for (const item of ops.append) kept.push(item)
  if (close) kept.push('connection', 'close')
  return kept
}
