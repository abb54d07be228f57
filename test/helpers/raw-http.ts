/**
 * A hand-driven HTTP/1.1 client connection for framing tests: write bytes exactly as given,
 * then read responses one by one with a strict little parser (Content-Length, chunked,
 * close-delimited, and the bodyless cases: HEAD, 1xx, 204, 304). Every read has a timeout.
 */
import net from 'node:net'

export interface RawResponse {
  readonly status: number
  /** Lower-cased names; repeated headers joined with ', '. */
  readonly headers: Readonly<Record<string, string>>
  /** The head exactly as received (status line and headers, without the blank line). */
  readonly head: string
  /** The body with any chunked framing removed. */
  readonly body: Buffer
  /** True when the body came chunked. */
  readonly chunked: boolean
}

export interface ReadOptions {
  /** The response answers a HEAD request: no body whatever the headers say. */
  readonly head?: boolean
  readonly timeoutMs?: number
}

interface Waiter {
  readonly opts: ReadOptions
  readonly resolve: (r: RawResponse) => void
  readonly reject: (e: Error) => void
  readonly timer: NodeJS.Timeout
}

const CRLF2 = Buffer.from('\r\n\r\n')

export class RawConnection {
  readonly socket: net.Socket
  /** Resolves once the socket is closed (by either side). */
  readonly closed: Promise<void>
  #buf: Buffer = Buffer.alloc(0)
  #waiter: Waiter | null = null
  #endedByServer = false
  #isClosed = false

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (d: Buffer) => {
      this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d])
      this.#pump()
    })
    socket.on('end', () => {
      this.#endedByServer = true
      this.#pump()
    })
    // Writes after the server closed (EPIPE, ECONNRESET) are part of what tests observe.
    socket.on('error', () => undefined)
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#isClosed = true
        this.#pump()
        resolve()
      }),
    )
  }

  static async open(port: number): Promise<RawConnection> {
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    return new RawConnection(socket)
  }

  /** True once the server sent FIN (or the socket closed). */
  get endedByServer(): boolean {
    return this.#endedByServer || this.#isClosed
  }

  /** Bytes received but not consumed by a parsed response. */
  get pending(): Buffer {
    return this.#buf
  }

  /** Writes `data` (strings as latin1); false when the socket can no longer be written. */
  write(data: string | Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
    return true
  }

  /** The next complete response on this connection. */
  async readResponse(opts: ReadOptions = {}): Promise<RawResponse> {
    if (this.#waiter !== null) throw new Error('one readResponse at a time')
    return new Promise<RawResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = null
        reject(new Error(`no complete response within ${opts.timeoutMs ?? 5000} ms`))
      }, opts.timeoutMs ?? 5000)
      this.#waiter = { opts, resolve, reject, timer }
      this.#pump()
    })
  }

  destroy(): void {
    this.socket.destroy()
  }

  #pump(): void {
    const waiter = this.#waiter
    if (waiter === null) return
    let parsed: { response: RawResponse; used: number } | null
    try {
      parsed = parseResponse(this.#buf, waiter.opts.head === true, this.endedByServer)
    } catch (err) {
      parsed = null
      this.#settle(waiter)
      waiter.reject(err as Error)
      return
    }
    if (parsed !== null) {
      this.#buf = this.#buf.subarray(parsed.used)
      this.#settle(waiter)
      waiter.resolve(parsed.response)
    } else if (this.endedByServer) {
      this.#settle(waiter)
      const got = this.#buf.toString('latin1').slice(0, 200)
      waiter.reject(
        new Error(`connection closed before a complete response (got ${JSON.stringify(got)})`),
      )
    }
  }

  #settle(waiter: Waiter): void {
    clearTimeout(waiter.timer)
    this.#waiter = null
  }
}

/**
 * Parses one response at the start of `buf`; null when more bytes are needed. `eof` says the
 * peer closed, which completes a close-delimited body. Throws on malformed framing.
 */
export function parseResponse(
  buf: Buffer,
  isHead: boolean,
  eof: boolean,
): { response: RawResponse; used: number } | null {
  const end = buf.indexOf(CRLF2)
  if (end === -1) return null
  const head = buf.subarray(0, end).toString('latin1')
  const [statusLine = '', ...lines] = head.split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine)
  if (m === null) throw new Error(`bad status line ${JSON.stringify(statusLine)}`)
  const status = Number(m[1])
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon <= 0) throw new Error(`bad header line ${JSON.stringify(line)}`)
    const name = line.slice(0, colon).toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  let pos = end + 4
  const base = { status, headers, head }
  if (isHead || (status >= 100 && status < 200) || status === 204 || status === 304) {
    return { response: { ...base, body: Buffer.alloc(0), chunked: false }, used: pos }
  }
  const te = headers['transfer-encoding']
  if (te !== undefined) {
    if (te.toLowerCase() !== 'chunked') throw new Error(`unexpected transfer-encoding ${te}`)
    const parts: Buffer[] = []
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos)
      if (lineEnd === -1) return null
      const sizeText = buf.subarray(pos, lineEnd).toString('latin1').split(';')[0] ?? ''
      if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new Error(`bad chunk size ${sizeText}`)
      const size = parseInt(sizeText, 16)
      pos = lineEnd + 2
      if (size === 0) {
        // trailer section: header lines up to an empty line
        for (;;) {
          const tEnd = buf.indexOf('\r\n', pos)
          if (tEnd === -1) return null
          const empty = tEnd === pos
          pos = tEnd + 2
          if (empty) break
        }
        return { response: { ...base, body: Buffer.concat(parts), chunked: true }, used: pos }
      }
      if (buf.length < pos + size + 2) return null
      parts.push(buf.subarray(pos, pos + size))
      if (buf.subarray(pos + size, pos + size + 2).toString('latin1') !== '\r\n') {
        throw new Error('chunk data not followed by CRLF')
      }
      pos += size + 2
    }
  }
  const cl = headers['content-length']
  if (cl !== undefined) {
    if (!/^\d+$/.test(cl)) throw new Error(`bad content-length ${cl}`)
    const n = Number(cl)
    if (buf.length < pos + n) return null
    return {
      response: { ...base, body: Buffer.from(buf.subarray(pos, pos + n)), chunked: false },
      used: pos + n,
    }
  }
  if (!eof) return null
  return {
    response: { ...base, body: Buffer.from(buf.subarray(pos)), chunked: false },
    used: buf.length,
  }
}
