/**
 * RequestBody: each attempt gets a fresh stream of the client's body; bodies up to 64 KiB are
 * kept and replay byte for byte, larger ones are not replayable, bodies over max_body_bytes end
 * with BODY_TOO_LARGE, and discardRest drains what the client still sends.
 */

import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { PassThrough, type Readable } from 'node:stream'
import { REPLAY_BUFFER_BYTES, RequestBody } from '../../../src/proxy/replay-buffer.ts'
import { ErrorCode, GatewayError } from '../../../src/errors.ts'
import { startFakeUpstream, type FakeUpstream } from '../../helpers/fake-upstream.ts'
import { request } from '../../helpers/http-client.ts'
import { within } from '../../helpers/within.ts'

/** A client body stand-in: what RequestBody uses of an IncomingMessage is the Readable side. */
function fakeClient(): { req: IncomingMessage; client: PassThrough } {
  const client = new PassThrough()
  return { req: client as unknown as IncomingMessage, client }
}

/** Deterministic bytes, different at every offset, so reordering or loss shows. */
function bytes(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  await within(once(stream, 'end'), 5000, 'attempt stream end')
  return Buffer.concat(chunks)
}

async function failureOf(stream: Readable): Promise<GatewayError> {
  stream.resume()
  const [err] = (await within(
    once(stream, 'error').catch((e: unknown) => [e]),
    5000,
    'stream error',
  )) as [unknown]
  assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`)
  return err
}

/** Writes `body` in chunks of `chunkSize` and ends the client side. */
function send(client: PassThrough, body: Buffer, chunkSize = 8192): void {
  for (let i = 0; i < body.length; i += chunkSize) client.write(body.subarray(i, i + chunkSize))
  client.end()
}

void describe('RequestBody', () => {
  void test('keeps 64 KiB for replay', () => {
    assert.equal(REPLAY_BUFFER_BYTES, 64 * 1024)
  })

  void test('replays a body of exactly 64 KiB to a second attempt, byte for byte', async () => {
    const { req, client } = fakeClient()
    const body = new RequestBody(req, 1024 * 1024)
    const sent = bytes(REPLAY_BUFFER_BYTES)
    send(client, sent, 10_000)
    assert.deepEqual(await collect(body.stream()), sent)
    assert.equal(body.replayable, true)
    assert.equal(body.bytesRead, sent.length)
    assert.deepEqual(await collect(body.stream()), sent)
    assert.deepEqual(await collect(body.stream()), sent, 'and to a third')
  })

  void test('gives a retry started mid-body the kept bytes, then the rest as it arrives', async () => {
    const { req, client } = fakeClient()
    const body = new RequestBody(req, 1024 * 1024)
    const first = body.stream()
    const firstSaw: Buffer[] = []
    first.on('data', (c: Buffer) => firstSaw.push(c))
    client.write(bytes(1000, 1))
    await within(once(first, 'data'), 5000, 'first chunk')
    body.detach()
    const received = collect(body.stream())
    client.write(bytes(2000, 2))
    client.end()
    assert.deepEqual(await received, Buffer.concat([bytes(1000, 1), bytes(2000, 2)]))
    assert.deepEqual(Buffer.concat(firstSaw), bytes(1000, 1), 'the failed attempt got no more')
    assert.equal(body.replayable, true)
  })

  void test('a body one byte over 64 KiB reaches the first attempt whole but is not replayable', async () => {
    const { req, client } = fakeClient()
    const body = new RequestBody(req, 1024 * 1024)
    const sent = bytes(REPLAY_BUFFER_BYTES + 1)
    send(client, sent)
    assert.deepEqual(await collect(body.stream()), sent)
    assert.equal(body.replayable, false)
    const err = await failureOf(body.stream())
    assert.equal(err.code, ErrorCode.INTERNAL)
  })

  void test('fails the attempt with BODY_TOO_LARGE once more than max_body_bytes arrive', async () => {
    const { req, client } = fakeClient()
    const body = new RequestBody(req, 1000)
    const attempt = body.stream()
    const failed = failureOf(attempt)
    client.write(bytes(600))
    client.write(bytes(600))
    const err = await failed
    assert.equal(err.code, ErrorCode.BODY_TOO_LARGE)
    assert.equal(err.status, 413)
    assert.equal(body.failure, err)
    assert.equal(body.replayable, false)
    client.destroy()
  })

  void test('accepts a body of exactly max_body_bytes', async () => {
    const { req, client } = fakeClient()
    const body = new RequestBody(req, 1000)
    send(client, bytes(1000), 300)
    assert.equal((await collect(body.stream())).length, 1000)
    assert.equal(body.failure, null)
  })

  void test('fails the attempt with CLIENT_ABORTED when the client goes away mid-body', async () => {
    const { req, client } = fakeClient()
    const body = new RequestBody(req, 1024 * 1024)
    const attempt = body.stream()
    const failed = failureOf(attempt)
    client.write(bytes(100))
    await within(once(attempt, 'data'), 5000, 'first chunk')
    client.destroy()
    assert.equal((await failed).code, ErrorCode.CLIENT_ABORTED)
    assert.equal(body.replayable, false)
  })

  void test('an attempt started after a failure gets that failure', async () => {
    const { req, client } = fakeClient()
    const body = new RequestBody(req, 10)
    const first = failureOf(body.stream())
    client.write(bytes(20))
    await first
    assert.equal((await failureOf(body.stream())).code, ErrorCode.INTERNAL)
    client.destroy()
  })

  void test('discardRest reads the rest of the body to its end without passing it on', async () => {
    const { req, client } = fakeClient()
    const body = new RequestBody(req, 1024 * 1024)
    const attempt = body.stream()
    const seen: Buffer[] = []
    attempt.on('data', (c: Buffer) => seen.push(c))
    client.write(bytes(500, 1))
    await within(once(attempt, 'data'), 5000, 'first chunk')
    body.discardRest()
    const ended = within(once(client, 'end'), 5000, 'client body end')
    client.write(bytes(70_000, 2))
    client.end()
    await ended
    assert.equal(body.bytesRead, 70_500)
    assert.deepEqual(
      Buffer.concat(seen),
      bytes(500, 1),
      'nothing after discardRest reached the attempt',
    )
  })

  void test('discardRest drains a body no attempt ever read', async () => {
    const { req, client } = fakeClient()
    const body = new RequestBody(req, 1024 * 1024)
    const ended = within(once(client, 'end'), 5000, 'client body end')
    body.discardRest()
    send(client, bytes(200_000))
    await ended
    assert.equal(body.bytesRead, 200_000)
  })

  void describe('with a real IncomingMessage', () => {
    let origin: FakeUpstream
    before(async () => {
      origin = await startFakeUpstream({
        streaming: true,
        handler: async (req, res) => {
          const body = new RequestBody(req, 1024 * 1024)
          const first = await collect(body.stream())
          const replay = body.replayable ? await collect(body.stream()) : null
          res.setHeader('content-type', 'application/json')
          res.end(
            JSON.stringify({
              first: sha256(first),
              replay: replay === null ? null : sha256(replay),
              replayable: body.replayable,
            }),
          )
        },
      })
    })
    after(async () => {
      await origin.close()
    })

    void test('a 60 KiB POST body reaches the first attempt and a replay identically', async () => {
      const sent = bytes(60 * 1024)
      const reply = await request(origin.url, { method: 'POST', body: sent })
      assert.deepEqual(reply.json(), {
        first: sha256(sent),
        replay: sha256(sent),
        replayable: true,
      })
    })

    void test('a 100 KiB POST body is read whole once and is then not replayable', async () => {
      const sent = bytes(100 * 1024)
      const reply = await request(origin.url, { method: 'POST', body: sent })
      assert.deepEqual(reply.json(), { first: sha256(sent), replay: null, replayable: false })
    })
  })
})

void describe('RequestBody.readAll (small declared bodies)', () => {
  void test('reads the whole body into one Buffer, identical to what the client sent', async () => {
    const { req, client } = fakeClient()
    const body = new RequestBody(req, 1 << 20)
    const sent = bytes(20_000, 7)
    const done = new Promise<Error | null>((resolve) => body.readAll(resolve))
    assert.equal(body.whole, null, 'nothing before the end')
    send(client, sent, 4096)
    assert.equal(await within(done, 5000, 'readAll done'), null)
    assert.equal(sha256(body.whole!), sha256(sent))
    assert.ok(body.replayable)
  })

  void test('reports a client that goes away before the end', async () => {
    const { req, client } = fakeClient()
    const body = new RequestBody(req, 1 << 20)
    const done = new Promise<Error | null>((resolve) => body.readAll(resolve))
    client.write(bytes(100))
    client.destroy()
    const err = await within(done, 5000, 'readAll failure')
    assert.ok(err instanceof GatewayError)
    assert.equal(err.code, ErrorCode.CLIENT_ABORTED)
    assert.equal(body.whole, null)
  })
})
