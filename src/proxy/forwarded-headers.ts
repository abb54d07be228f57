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
  const out: string[] = ['host', input.hostHeader]
  const removed = ops?.remove
  // hot path: one copy loop; names the client sent in Connection are dropped afterwards only
  // when there are any (rare)
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string
    const lower = name.toLowerCase()
    if (HOP_BY_HOP.has(lower) || OWN_HEADERS.has(lower)) continue
    if (removed !== undefined && removed.has(lower)) continue
    out.push(name, rawHeaders[i + 1] as string)
  }
  const forwardedFor =
    head.forwardedFor === null ? input.clientIp : `${head.forwardedFor}, ${input.clientIp}`
  out.push(
    'x-forwarded-for',
    forwardedFor,
    'x-forwarded-proto',
    input.proto,
    'x-forwarded-host',
    head.host,
    'x-real-ip',
    input.clientIp,
    'x-request-id',
    input.requestId,
  )
  if (ops !== null) for (const item of ops.append) out.push(item)
  const named = connectionNamedHeaders(head.connection)
  return named === null ? out : removeNamed(out, named)
}

/**
 * The response header list for the client: the upstream's raw headers (Buffers, from undici)
 * minus hop-by-hop and removed names, plus X-Request-Id and the route's set/add rules.
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
    if (lower === 'x-request-id') continue
    if (removed !== undefined && removed.has(lower)) continue
    out.push(name, (raw[i + 1] as Buffer).toString('latin1'))
  }
  out.push('x-request-id', requestId)
  if (ops !== null) for (const item of ops.append) out.push(item)
  if (close) out.push('connection', 'close')
  const named = connectionNamedHeaders(connection)
  return named === null ? out : removeNamed(out, named)
}
