/**
 * mayRetry, as a table: attempts left, the failure listed in `retries.on`, and the request safe
 * to send again (connect phase for any method; later only idempotent or opted-in methods whose
 * body is still replayable).
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mayRetry } from '../../../src/proxy/retry-policy.ts'
import type { RetryQuestion } from '../../../src/proxy/retry-policy.ts'

const BASE: RetryQuestion = {
  retries: { attempts: 2, on: new Set(['connect-failure', 'reset', '503']), nonIdempotent: false },
  attemptsMade: 1,
  method: 'GET',
  phase: 'request-sent',
  conditions: ['reset'],
  bodyReplayable: true,
}

function ask(overrides: Partial<RetryQuestion> & { nonIdempotent?: boolean; attempts?: number }) {
  const { nonIdempotent, attempts, ...rest } = overrides
  return mayRetry({
    ...BASE,
    ...rest,
    retries: {
      ...BASE.retries,
      ...(attempts === undefined ? {} : { attempts }),
      ...(nonIdempotent === undefined ? {} : { nonIdempotent }),
    },
  })
}

type Case = readonly [string, Parameters<typeof ask>[0], boolean]

const CASES: readonly Case[] = [
  ['retries an idempotent request after a listed failure', {}, true],
  ['retries while attempts remain (the last extra attempt)', { attemptsMade: 2 }, true],
  ['stops once every extra attempt is used', { attemptsMade: 3 }, false],
  ['never retries when the route allows no extra attempt', { attempts: 0 }, false],
  ['does not retry a failure the route does not list', { conditions: ['timeout'] }, false],
  ['does not retry a failure without conditions', { conditions: [] }, false],
  ['retries when any one of the conditions is listed', { conditions: ['timeout', '503'] }, true],
  [
    'retries a connect-phase failure for any method, even with a spent body',
    { phase: 'connect', method: 'POST', conditions: ['connect-failure'], bodyReplayable: false },
    true,
  ],
  [
    'still needs the connect failure to be listed',
    { phase: 'connect', conditions: ['connect-timeout'] },
    false,
  ],
  ['does not retry POST after the request was sent', { method: 'POST' }, false],
  ['does not retry PATCH after the request was sent', { method: 'PATCH' }, false],
  ['retries POST when the route opts in', { method: 'POST', nonIdempotent: true }, true],
  [
    'does not retry an opted-in POST whose body outgrew the replay buffer',
    { method: 'POST', nonIdempotent: true, bodyReplayable: false },
    false,
  ],
  [
    'does not retry an idempotent PUT whose body is no longer replayable',
    { method: 'PUT', bodyReplayable: false },
    false,
  ],
  [
    'does not retry after response headers for a non-idempotent method',
    { method: 'POST', phase: 'response-headers', conditions: ['503'] },
    false,
  ],
  [
    'retries a listed status for an idempotent method',
    { method: 'DELETE', phase: 'response-headers', conditions: ['503'] },
    true,
  ],
  ['treats method names case-sensitively (get is not GET)', { method: 'get' }, false],
]

void describe('mayRetry', () => {
  for (const [title, overrides, expected] of CASES) {
    void test(title, () => {
      assert.equal(ask(overrides), expected)
    })
  }

  for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']) {
    void test(`treats ${method} as idempotent`, () => {
      assert.equal(ask({ method }), true)
    })
  }
})
