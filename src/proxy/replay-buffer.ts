/**
 * The request body as seen by upstream attempts. The client's body is read once; the first
 * 64 KiB are kept so a failed attempt can be replayed on another target (SPEC §3 retries).
 * Each attempt gets a fresh Readable: the kept chunks first, then the live rest of the body,
 * with back-pressure to the client. Also enforces max_body_bytes on chunked bodies.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { ErrorCode, GatewayError } from '../errors.ts'

/** Bytes of request body kept for replay. */
export const REPLAY_BUFFER_BYTES = 64 * 1024

export class RequestBody {
  readonly #req: IncomingMessage
  readonly #maxBytes: number
  readonly #kept: Buffer[] = []
  #bytesRead = 0
  #overflowed = false
  #ended = false
  #failure: Error | null = null
  #current: Readable | null = null
  #listening = false
  #discarding = false
  #closeConnection: (() => void) | null = null
  #onAllRead: ((err: Error | null) => void) | null = null
  #whole: Buffer | null = null

  constructor(req: IncomingMessage, maxBodyBytes: number) {
    this.#req = req
    this.#maxBytes = maxBodyBytes
  }

  /** True while every byte read so far is still kept, so an attempt can be replayed. */
  get replayable(): boolean {
    return !this.#overflowed && this.#failure === null
  }

  /** Body bytes read from the client so far. */
  get bytesRead(): number {
    return this.#bytesRead
  }

  /** The failure that ended the body (too large, client gone), if any. */
  get failure(): Error | null {
    return this.#failure
  }

  /**
   * Reads the whole body before the first attempt; only for a declared Content-Length that fits
   * the replay buffer. `done` runs once: null when complete, else the failure. The body then
   * goes upstream as one Buffer, written with the request head in a single write and replayable
   * at no cost; streaming 16 KiB through a Readable cost ~30% more CPU per request in the
   * benchmark (bench/RESULTS.md). nginx buffers request bodies by default for the same reason.
   */
  readAll(done: (err: Error | null) => void): void {
    this.#onAllRead = done
    this.#listen()
  }

  /** The complete body after `readAll` finished, else null. */
  get whole(): Buffer | null {
    if (this.#whole === null && this.#ended && this.#onAllRead !== null) {
      this.#whole = this.#kept.length === 1 ? (this.#kept[0] as Buffer) : Buffer.concat(this.#kept)
    }
    return this.#whole
  }

  /** A new stream for one attempt; the previous attempt's stream is detached. */
  stream(): Readable {
    const previous = this.#current
    const stream = new Readable({ read: () => this.#req.resume() })
    // The attempt may not have attached to the stream yet when the body fails (client gone,
    // over the limit); an 'error' with no listener would crash the process. The failure is
    // kept in #failure and reaches the attempt through undici or the forward loop anyway.
    stream.on('error', () => undefined)
    this.#current = stream
    previous?.destroy()
    if (this.#bytesRead > 0 && !this.replayable) {
      stream.destroy(new GatewayError(ErrorCode.INTERNAL, 'request body is not replayable'))
      return stream
    }
    for (const chunk of this.#kept) stream.push(chunk)
    if (this.#ended) stream.push(null)
    else if (this.#failure !== null) stream.destroy(this.#failure)
    else this.#listen()
    return stream
  }

  /** Stops reading for the current attempt (it failed; another may follow). */
  detach(): void {
    this.#req.pause()
    this.#current = null
  }

  /**
   * The exchange is over but the client is still sending (the upstream answered early): read
   * and drop the rest so the connection's next request parses from the right byte. When the
   * rest cannot be dropped (over max_body_bytes, or the body already failed), the connection
   * is unusable and `closeConnection` is called instead.
   */
  discardRest(closeConnection?: () => void): void {
    if (this.#ended) return
    if (this.#failure !== null) {
      closeConnection?.()
      return
    }
    this.#current = null
    this.#discarding = true
    this.#closeConnection = closeConnection ?? null
    this.#listen()
  }

  #listen(): void {
    if (this.#listening) {
      this.#req.resume()
      return
    }
    this.#listening = true
    this.#req.on('data', (chunk: Buffer) => this.#onData(chunk))
    this.#req.on('end', () => {
      this.#ended = true
      this.#current?.push(null)
      this.#onAllRead?.(null)
    })
    this.#req.on('close', () => {
      if (!this.#ended) this.#fail(new GatewayError(ErrorCode.CLIENT_ABORTED, 'client went away'))
    })
  }

  #onData(chunk: Buffer): void {
    this.#bytesRead += chunk.length
    if (this.#bytesRead > this.#maxBytes) {
      this.#fail(new GatewayError(ErrorCode.BODY_TOO_LARGE, 'request body over the limit'))
      // The response is already out (the upstream answered early), so no 413 can follow and
      // the rest of the body cannot be skipped: pausing alone left the connection hanging open
      // forever with the client blocked mid-upload. Close it instead.
      if (this.#discarding) this.#closeConnection?.()
      return
    }
    if (this.#discarding) return
    if (!this.#overflowed) {
      if (this.#bytesRead <= REPLAY_BUFFER_BYTES) this.#kept.push(chunk)
      else {
        this.#overflowed = true
        this.#kept.length = 0
      }
    }
    if (this.#onAllRead !== null) return
    const current = this.#current
    if (current === null) {
      this.#req.pause()
      return
    }
    if (!current.push(chunk)) this.#req.pause()
  }

  #fail(err: Error): void {
    if (this.#failure !== null) return
    this.#failure = err
    this.#req.pause()
    this.#current?.destroy(err)
    this.#onAllRead?.(err)
  }
}
