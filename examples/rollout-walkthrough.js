// The staged roll-out walk-through (docs/rollout.md): with the demo running (`npm start` in
// another terminal), push examples/rollout-bad-canary.yaml to the admin API as a canary, send
// traffic, and watch the gateway roll it back on its own.
//
//   node examples/rollout-walkthrough.js
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const base = `http://127.0.0.1:${process.env.HITLESS_PORT ?? '8080'}`
const admin = `http://127.0.0.1:${process.env.HITLESS_ADMIN_PORT ?? '9901'}`

function call(url, { method = 'GET', body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode, text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const json = async (url, opts) => JSON.parse((await call(url, opts)).text)

try {
  await call(`${admin}/readyz`)
} catch {
  console.error(`no gateway at ${admin}: start the demo first (npm start)`)
  process.exit(1)
}

console.log('1. push the bad config: it becomes the canary beside the running version')
const canary = await json(`${admin}/reload`, {
  method: 'POST',
  body: fs.readFileSync(path.join(here, 'rollout-bad-canary.yaml'), 'utf8'),
})
console.log('  ', JSON.stringify(canary))
if (canary.outcome !== 'canary') {
  console.error('   (not a canary: is the demo running examples/quickstart.yaml?)')
  process.exit(1)
}
const running = await json(`${admin}/rollout`)
console.log(
  `   GET /rollout: ${running.state}, canary ${running.canary.version} takes ${running.canary_percent}%`,
)

console.log('2. traffic: GET /api/users/1 until the gateway decides (at most 1000 requests)')
const seen = new Map()
for (let i = 0; i < 1000; i++) {
  const { status } = await call(`${base}/api/users/1`)
  seen.set(status, (seen.get(status) ?? 0) + 1)
  if (i % 10 === 9 && (await json(`${admin}/rollout`)).state === 'none') break
}
console.log(`   answers by status: ${JSON.stringify(Object.fromEntries(seen))}`)

console.log('3. the verdict (GET /rollout)')
const after = await json(`${admin}/rollout`)
console.log(`   ${after.last.outcome}: ${after.last.reason}`)
console.log(`   canary ${JSON.stringify(after.last.canary)}`)
console.log(`   stable ${JSON.stringify(after.last.stable)}`)
const again = await call(`${base}/api/users/1`)
console.log(`4. GET /api/users/1 now: ${again.status} (the stable version serves everything)`)
const history = await json(`${admin}/config/history`)
console.log(
  `   history: ${history.history
    .slice(0, 3)
    .map((h) => `${h.outcome} ${h.version}`)
    .join(', ')}`,
)
