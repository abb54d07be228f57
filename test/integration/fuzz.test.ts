/**
 * Generated fuzzing of the request path: thousands of mutated requests (fixed seed, so failures
 * reproduce) through one gateway to a strict recording origin. The gateway must never crash,
 * hang or answer with anything but well-formed HTTP/1.1 (JSON bodies for its errors); the
 * origin must see only strictly valid requests, and only ones the client validly sent.
 * `HITLESS_FUZZ_COUNT` (default 6000) and `HITLESS_FUZZ_SEED` change the run for local hunts.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { normalizePath } from '../../src/router/normalize-path.ts'
import {
  badErrorBody,
  createFuzzer,
  exchange,
  parseResponses,
  type Exchange,
  type FuzzCase,
} from '../helpers/http-fuzz.ts'
import { startGateway, type TestGateway } from '../helpers/start-gateway.ts'
import { rawExchange, statusOf } from '../helpers/http-client.ts'
import { fieldOf, parseAll, parseRequest, type StrictRequest } from '../helpers/strict-http.ts'
import { startStrictOrigin, type StrictOrigin } from '../helpers/strict-origin.ts'
import { waitFor } from '../helpers/wait-for.ts'

const SEED = Number(process.env['HITLESS_FUZZ_SEED'] ?? 0x5eed)
const COUNT = Number(process.env['HITLESS_FUZZ_COUNT'] ?? 6000)
const CONCURRENCY = 8
// Short, so that the keep-alive cases (which wait it out) keep the run bounded; a case that
// looks hung after it is sent again with SLOW_IDLE_MS before it counts as a failure, so a
// loaded machine slows the run down instead of failing it.
const IDLE_MS = 300
const SLOW_IDLE_MS = 5000

let origin: StrictOrigin
let gw: TestGateway
// An exception nobody caught would kill a production gateway; here it is recorded and fails
// the run instead of being lost among the runner's own diagnostics.
const uncaught: string[] = []
const onUncaught = (err: Error): void => {
  uncaught.push(err.stack ?? String(err))
}

before(async () => {
  process.on('uncaughtException', onUncaught)
  origin = await startStrictOrigin()
  gw = await startGateway({
    defaults: {
      timeouts: { connect: '1s', response_header: '2s', idle: '2s' },
      limits: { header_timeout: '2s' },
    },
    upstreams: { strict: { targets: [{ url: origin.url }] } },
    routes: [{ name: 'all', match: { prefix: '/' }, upstream: 'strict' }],
  })
})

after(async () => {
  await gw.close()
  await origin.close()
  process.removeListener('uncaughtException', onUncaught)
})

/**
 * Known gaps outside the files this suite may change, counted and shown instead of failing the
 * run (each has a `todo` test in malformed-requests.test.ts and a proposed fix):
 * - Node answers an Expect other than 100-continue with its own bare 417 (keep-alive, no JSON)
 *   because no 'checkExpectation' listener is registered;
 * - for an Expect: 100-continue request pipelined behind another, the 100 is queued and Node
 *   puts the final response's head in front of it (forward.ts calls writeContinue on a queued
 *   response), so the client reads `100 Continue` as the start of the body.
 */
const KNOWN_NODE_417 = 417
const KNOWN_LATE_100 =
  /(HTTP\/1\.1 [2-5]\d\d [^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n)HTTP\/1\.1 100 Continue\r\n\r\n/

const knownGaps = { node417: 0, late100: 0 }

/** `ex` with the known late-100 misordering undone (and counted). */
function withoutKnownGaps(ex: Exchange): Exchange {
  const text = ex.received.toString('latin1')
  if (!KNOWN_LATE_100.test(text)) return ex
  knownGaps.late100++
  return { ...ex, received: Buffer.from(text.replace(KNOWN_LATE_100, '$1'), 'latin1') }
}

/**
 * What the origin may receive for a request the client validly sent: method, forwarded target
 * (normalised as the router does), Host (from an absolute-form target if there is one) and body.
 */
function keyOf(method: string, target: string, host: string, body: Buffer): string {
  return JSON.stringify([method, target, host, body.toString('latin1')])
}

/**
 * The oracle: keys of the requests in `c` that a strict client-side parser calls valid, and
 * whether the bytes end in the middle of a request (then the client half-closes, so the gateway
 * sees EOF instead of waiting for the rest).
 */
function oracle(c: FuzzCase): { keys: string[]; rest: string } {
  const parsed = parseAll(c.bytes, { mode: 'client' })
  const keys: string[] = []
  for (const req of parsed.requests) {
    const target = normalizePath(req.target)
    if (target === null) continue
    const host = target.authority !== null ? authorityOf(req.target) : (fieldOf(req, 'host') ?? '')
    const body = req.upgrade ? Buffer.alloc(0) : req.body
    keys.push(keyOf(req.method, target.path + target.query, host, body))
  }
  return { keys, rest: parsed.rest }
}

/**
 * Keys Node's own 417 makes valid (the first known gap): the 417 keeps the connection open, so
 * the requests after the refused one are served. Its framing is sound (llhttp checked it), so
 * the oracle resumes after it.
 */
function keysAfterNode417(c: FuzzCase): string[] {
  const first = parseRequest(c.bytes, 0, { mode: 'client', framingOnly: true })
  if (first.kind !== 'request') return []
  return oracle({ ...c, bytes: c.bytes.subarray(first.end) }).keys
}

function authorityOf(target: string): string {
  return /^https?:\/\/([^/?#]*)/i.exec(target)?.[1] ?? ''
}

function originKey(req: StrictRequest): string {
  return keyOf(req.method, req.target, fieldOf(req, 'host') ?? '', req.body)
}

/** Problems with what the client saw for one case (empty when all is well). */
function checkExchange(ex: Exchange, validCount: number, endAfterWrite: boolean): string[] {
  const problems: string[] = []
  const { responses, error } = parseResponses(ex.received)
  if (error !== null) problems.push(error)
  let finals = 0
  let oks = 0
  responses.forEach((res, i) => {
    if (res.status >= 200) finals++
    if (res.status === 200) {
      oks++
      if (res.body.toString('latin1') !== 'ok') {
        problems.push('200 with a body the origin never sent')
      }
    }
    if (res.status === KNOWN_NODE_417) return
    if (res.status >= 400) {
      const bad = badErrorBody(res)
      if (bad !== null) problems.push(`${res.status}: ${bad}`)
      if (res.headers.get('connection') !== 'close') problems.push(`${res.status} without close`)
      if (i !== responses.length - 1) problems.push(`response after a ${res.status}`)
    }
  })
  if (oks > validCount) problems.push(`${oks} × 200 for ${validCount} valid request(s)`)
  const last = responses.at(-1)
  if (
    last !== undefined &&
    last.status >= 400 &&
    last.status !== KNOWN_NODE_417 &&
    ex.how === 'idle'
  ) {
    problems.push(`connection left open after ${last.status}`)
  }
  if (endAfterWrite && ex.how === 'idle') {
    problems.push(`hang: no close after EOF (${finals} final responses)`)
  }
  return problems
}

function outcomeOf(ex: Exchange): string {
  const statuses = parseResponses(ex.received).responses.map((r) => r.status)
  const shown = statuses.length === 0 ? 'none' : statuses.join('+')
  return `${shown}/${ex.how}`
}

test(`${COUNT} mutated requests (seed ${SEED}): no crash, hang, leak or invalid upstream request`, async (t) => {
  const fuzzer = createFuzzer(SEED)
  const cases = Array.from({ length: COUNT }, () => fuzzer.next())
  const allowed = new Map<string, number>()
  const failures: string[] = []
  const outcomes = new Map<string, number>()
  const started = performance.now()
  let retried = 0

  const allow = (keys: readonly string[]): void => {
    for (const key of keys) allowed.set(key, (allowed.get(key) ?? 0) + 1)
  }
  /** Sends one case and judges the answer; the keys it may add at the origin are allowed. */
  const attempt = async (c: FuzzCase, idleMs: number) => {
    const { keys, rest } = oracle(c)
    allow(keys)
    const endAfterWrite = c.endAfterWrite || rest === 'incomplete'
    const ex = withoutKnownGaps(
      await exchange(gw.port, c.bytes, {
        idleMs,
        endAfterWrite,
        expectFinals: keys.length + (rest === 'end' || rest === 'upgrade' ? 0 : 1),
      }),
    )
    if (parseResponses(ex.received).responses.some((r) => r.status === KNOWN_NODE_417)) {
      knownGaps.node417++
      const more = keysAfterNode417(c)
      allow(more)
      keys.push(...more)
    }
    return { ex, rest, problems: checkExchange(ex, keys.length, endAfterWrite) }
  }

  let nextIndex = 0
  const worker = async (): Promise<void> => {
    for (let i = nextIndex++; i < cases.length; i = nextIndex++) {
      const c = cases[i] as FuzzCase
      let run = await attempt(c, IDLE_MS)
      if (run.problems.length > 0 && run.ex.how === 'idle') {
        // A quiet connection on a loaded machine is not yet a hang: ask again, with time to
        // spare, and judge that answer.
        retried++
        run = await attempt(c, SLOW_IDLE_MS)
      }
      const outcome = outcomeOf(run.ex)
      if (process.env['HITLESS_FUZZ_TRACE'] === outcome) {
        t.diagnostic(
          `case ${c.id} (${c.recipe}) ${run.rest}: ${JSON.stringify(c.bytes.toString('latin1'))}`,
        )
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
      for (const p of run.problems) {
        failures.push(
          `case ${c.id} (${c.recipe}): ${p}\n  sent ${JSON.stringify(c.bytes.toString('latin1'))}` +
            `\n  got ${JSON.stringify(run.ex.received.toString('latin1').slice(0, 300))}`,
        )
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))

  // The same gateway still answers a plain request: it neither crashed nor wedged.
  allowed.set(keyOf('GET', '/probe', 'a.example', Buffer.alloc(0)), 1)
  const probe = await rawExchange(
    gw.port,
    'GET /probe HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n',
  )
  assert.equal(statusOf(probe.text), 200, 'the gateway answers after the fuzz run')
  await waitFor(() => origin.partial === 0, { message: 'upstream requests still half-sent' })

  const unexpected: string[] = []
  for (const req of origin.requests) {
    const key = originKey(req)
    const left = allowed.get(key) ?? 0
    if (left === 0) unexpected.push(JSON.stringify(req.raw.toString('latin1')))
    else allowed.set(key, left - 1)
  }

  const summary = [...outcomes.entries()].sort((a, b) => b[1] - a[1])
  t.diagnostic(
    `${COUNT} cases in ${Math.round(performance.now() - started)} ms, seed ${SEED}, ` +
      `${retried} sent again after ${IDLE_MS} ms of silence`,
  )
  t.diagnostic(
    `client outcomes (statuses/how the connection ended): ${summary.map(([k, v]) => `${k} ${v}`).join(', ')}`,
  )
  t.diagnostic(
    `origin: ${origin.requests.length} valid requests, ${origin.violations.length} violations, ` +
      `${origin.truncated} aborted mid-request, ${origin.deviations.length} tolerated deviations`,
  )
  t.diagnostic(
    `known gaps (todo in malformed-requests.test.ts): Node's bare 417 in ${knownGaps.node417} ` +
      `cases, 100 Continue after the final head in ${knownGaps.late100}`,
  )

  assert.deepEqual(uncaught.slice(0, 3), [], 'uncaught exceptions in the gateway')
  const errors = gw.logs.filter((l) => (l.level ?? 0) >= 50).map((l) => l.msg)
  assert.deepEqual(errors.slice(0, 5), [], 'the gateway logged internal errors')
  assert.deepEqual(origin.violations.slice(0, 5), [], 'the origin saw an invalid request')
  assert.deepEqual(unexpected.slice(0, 5), [], 'the origin got requests no client validly sent')
  assert.deepEqual(failures.slice(0, 8), [], `${failures.length} client-side failures`)
})
