/**
 * Just enough of WebSocket framing (RFC 6455 §5.2) for a proxy that otherwise relays bytes: find
 * where frames end in each direction of a tunnel, and build a close frame. A graceful stop that
 * reaches `drain_timeout` uses both to end a WebSocket with 1001 "going away" instead of a bare
 * TCP cut, which clients would report as an abnormal closure (1006).
 */
import { randomBytes } from 'node:crypto'

/** 1001: the endpoint is going away (server shutting down). */
export const GOING_AWAY = 1001

/** Follows frame boundaries in one direction of a tunnel, fed every chunk that passes. */
export class FrameBoundary {
  /** Header bytes of the frame being read (at most 14). */
  readonly #head: number[] = []
  /** Payload bytes of the current frame still to come. */
  #remaining = 0

  feed(chunk: Buffer): void {
    let i = 0
    while (i < chunk.length) {
      if (this.#remaining > 0) {
        const n = Math.min(this.#remaining, chunk.length - i)
        this.#remaining -= n
        i += n
        continue
      }
      this.#head.push(chunk[i++] ?? 0)
      if (this.#head.length >= 2 && this.#head.length === headerLength(this.#head)) {
        this.#remaining = payloadLength(this.#head)
        this.#head.length = 0
      }
    }
  }

  /** True between two frames: a frame of our own can be sent without corrupting the stream. */
  get atBoundary(): boolean {
    return this.#remaining === 0 && this.#head.length === 0
  }
}

function headerLength(head: readonly number[]): number {
  const b1 = head[1] ?? 0
  const len = b1 & 0x7f
  return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0)
}

function payloadLength(head: readonly number[]): number {
  const len = (head[1] ?? 0) & 0x7f
  if (len < 126) return len
  let n = 0
  const bytes = len === 126 ? 2 : 8
  for (let k = 0; k < bytes; k++) n = n * 256 + (head[2 + k] ?? 0)
  return n
}

/**
 * A close frame with `code` and no reason. Frames a client sends must be masked (§5.3); a
 * server's must not be.
 */
export function closeFrame(code: number, masked: boolean): Buffer {
  const payload = Buffer.from([code >> 8, code & 0xff])
  if (!masked) return Buffer.concat([Buffer.from([0x88, payload.length]), payload])
  const mask = randomBytes(4)
  const out = Buffer.alloc(2 + 4 + payload.length)
  out[0] = 0x88
  out[1] = 0x80 | payload.length
  mask.copy(out, 2)
  for (let i = 0; i < payload.length; i++) out[6 + i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0)
  return out
}
