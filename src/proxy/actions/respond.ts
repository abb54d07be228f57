/**
 * The `respond` and `redirect` actions: answers made by the gateway itself from data compiled
 * at snapshot build time (status, body, headers; a redirect's location template).
 */
import type { CompiledAction } from '../../snapshot/route-entry.ts'
import type { Exchange } from '../exchange.ts'

type RespondAction = Extract<CompiledAction, { kind: 'respond' }>
type RedirectAction = Extract<CompiledAction, { kind: 'redirect' }>

/** Writes a fixed response. */
export function respond(ex: Exchange, action: RespondAction, close: boolean): void {
  ex.recorder = action.recorder
  const headers = [...action.headers, 'x-request-id', ex.requestId]
  if (close) headers.push('connection', 'close')
  const body = ex.method === 'HEAD' ? undefined : action.body
  ex.status = action.status
  ex.bytes = ex.method === 'HEAD' ? 0 : action.body.length
  writeWhole(ex, action.status, headers, body)
}

/** Writes a whole response, after the middleware chain when there is one. */
export function writeWhole(
  ex: Exchange,
  status: number,
  headers: string[],
  body: string | Buffer | undefined,
): void {
  const res = ex.res
  const gate = ex.gate
  // No chain (the common case): written at once, with nothing allocated for a later write.
  if (gate === null) {
    res.writeHead(status, headers)
    res.end(body)
    return
  }
  const accepted = gate.hold(status, headers, (s, h) => {
    ex.status = s
    res.writeHead(s, h)
    res.end(body)
  })
  // The chain's head is out or dropped already: written only if there is still something to say.
  if (!accepted && !res.headersSent && !res.destroyed) {
    res.writeHead(status, headers)
    res.end(body)
  }
}
/** Writes a redirect, filling `{path}`, `{query}`, `{uri}` and `{host}` in the location. */
export function redirect(ex: Exchange, action: RedirectAction, close: boolean): void {
  ex.recorder = action.recorder
  let location = ''
  for (const part of action.parts) {
    if (typeof part === 'string') location += part
    else if (part.placeholder === 'path') location += ex.path
    else if (part.placeholder === 'query') location += ex.query
    else if (part.placeholder === 'uri') location += ex.path + ex.query
    else location += ex.head.host
  }
  const headers = ['location', location, 'content-length', '0', 'x-request-id', ex.requestId]
  if (close) headers.push('connection', 'close')
  ex.status = action.status
  writeWhole(ex, action.status, headers, undefined)
}
