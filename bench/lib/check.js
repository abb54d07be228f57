// Pre-flight check of a started candidate with real requests, so a proxy that answers fast but
// wrong (404s, truncated bodies, rules not applied) is caught before it is measured.
import http from 'node:http'
import { LARGE_BYTES, SMALL_BODY } from './nginx.js'

function request(port, { method = 'GET', path, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, headers, agent: false, timeout: 5000 },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        )
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * Returns { fatal: [...], warnings: [...] }: fatal problems exclude the candidate from the round,
 * warnings (the hitless header/rewrite rules not visible) are reported next to its numbers.
 */
export async function checkCandidate(name, { port, pathPrefix }) {
  const fatal = []
  const warnings = []
  const p = (path) => `${pathPrefix}${path}`
  try {
    const small = await request(port, { path: p('/small') })
    if (small.status !== 200 || small.body.toString() !== SMALL_BODY) {
      fatal.push(
        `GET /small → ${small.status} ${JSON.stringify(small.body.toString().slice(0, 80))}`,
      )
    }
    const large = await request(port, { path: p('/16k') })
    if (large.status !== 200 || large.body.length !== LARGE_BYTES) {
      fatal.push(`GET /16k → ${large.status}, ${large.body.length} bytes`)
    }
    const sinkBody = Buffer.alloc(LARGE_BYTES, 'x')
    const sink = await request(port, {
      method: 'POST',
      path: p('/sink'),
      headers: { 'content-type': 'application/octet-stream', 'content-length': sinkBody.length },
      body: sinkBody,
    })
    if (sink.status !== 200) fatal.push(`POST /sink → ${sink.status}`)
    if (name === 'hitless') warnings.push(...(await checkHitlessRules(port, p)))
  } catch (err) {
    fatal.push(`request failed: ${err.message}`)
  }
  return { fatal, warnings }
}

/** The rules of bench/configs/hitless.yaml, seen from both ends. */
async function checkHitlessRules(port, p) {
  const res = await request(port, { path: p('/check'), headers: { 'x-drop-me': '1' } })
  const problems = []
  const seen = res.body.toString()
  if (res.status !== 200) problems.push(`GET /b/check → ${res.status} (rewrite strip_prefix /b?)`)
  else if (seen !== 'x-bench=1 x-drop-me=') problems.push(`origin saw "${seen}" (request rules)`)
  if (res.headers['x-proxied-by'] !== 'hitless') problems.push('no x-proxied-by: hitless')
  if (res.headers['x-powered-by'] !== undefined) problems.push('x-powered-by not removed')
  return problems
}
