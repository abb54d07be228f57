import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeFrame, FrameBoundary, GOING_AWAY } from '../../../src/proxy/ws-frames.ts'

/** A frame as RFC 6455 §5.2 lays it out, masked with a fixed key when `masked`. */
function frame(payloadLength: number, masked: boolean): Buffer {
  const len = payloadLength < 126 ? [payloadLength] : payloadLength < 65536 ? [126] : [127]
  const ext =
    payloadLength < 126
      ? []
      : payloadLength < 65536
        ? [payloadLength >> 8, payloadLength & 0xff]
        : [
            0,
            0,
            0,
            0,
            (payloadLength >>> 24) & 0xff,
            (payloadLength >> 16) & 0xff,
            (payloadLength >> 8) & 0xff,
            payloadLength & 0xff,
          ]
  const head = [0x82, (masked ? 0x80 : 0) | (len[0] ?? 0), ...ext, ...(masked ? [1, 2, 3, 4] : [])]
  return Buffer.concat([Buffer.from(head), Buffer.alloc(payloadLength, 7)])
}

test('frame boundaries are found whatever the chunking, for every length encoding', () => {
  for (const masked of [false, true]) {
    const frames = [0, 5, 125, 126, 300, 65535, 65536, 100_000].map((n) => frame(n, masked))
    const stream = Buffer.concat(frames)
    const ends = new Set<number>()
    let at = 0
    for (const f of frames) ends.add((at += f.length))
    for (const size of [1, 2, 3, 7, 1000, stream.length]) {
      const boundary = new FrameBoundary()
      for (let i = 0; i < stream.length; i += size) {
        const chunk = stream.subarray(i, Math.min(i + size, stream.length))
        boundary.feed(chunk)
        const end = i + chunk.length
        assert.equal(boundary.atBoundary, ends.has(end), `masked=${masked} size=${size} at ${end}`)
      }
    }
  }
})

test('a fresh tracker is at a boundary; a lone header byte is not', () => {
  const boundary = new FrameBoundary()
  assert.equal(boundary.atBoundary, true)
  boundary.feed(Buffer.from([0x81]))
  assert.equal(boundary.atBoundary, false)
  boundary.feed(Buffer.from([0x00]))
  assert.equal(boundary.atBoundary, true, 'an empty frame ends with its header')
})

test('close frames: unmasked from the server, masked from the client, code 1001', () => {
  assert.deepEqual([...closeFrame(GOING_AWAY, false)], [0x88, 0x02, 0x03, 0xe9])
  const masked = closeFrame(GOING_AWAY, true)
  assert.equal(masked.length, 8)
  assert.equal(masked[0], 0x88)
  assert.equal(masked[1], 0x82)
  const key = masked.subarray(2, 6)
  const code = [(masked[6] ?? 0) ^ (key[0] ?? 0), (masked[7] ?? 0) ^ (key[1] ?? 0)]
  assert.deepEqual(code, [0x03, 0xe9])
  const boundary = new FrameBoundary()
  boundary.feed(masked)
  assert.equal(boundary.atBoundary, true)
})
