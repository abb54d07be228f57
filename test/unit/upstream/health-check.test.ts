import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { HealthChecker } from '../../../src/upstream/health-check.ts'
import { TargetState } from '../../../src/upstream/target-state.ts'
import { waitFor } from '../../helpers/wait-for.ts'

const SETTINGS = {
  path: '/healthz',
  intervalMs: 30,
  timeoutMs: 25,
  healthyThreshold: 1,
  unhealthyThreshold: 2,
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as net.AddressInfo).port
}

test('a target that accepts but never answers fails its probes by timeout', async (t) => {
  const hanging = http.createServer(() => undefined)
  const port = await listen(hanging)
  t.after(() => {
    hanging.closeAllConnections()
    hanging.close()
  })
  const state = new TargetState('app', `http://127.0.0.1:${port}`)
  const transitions: [boolean, string][] = []
  const checker = new HealthChecker(state, SETTINGS, (_s, healthy, reason) =>
    transitions.push([healthy, reason]),
  )
  t.after(() => checker.stop())
  await waitFor(() => transitions.length === 1, { message: 'the target is found unhealthy' })
  assert.equal(state.healthy, false)
  assert.equal(state.available, false)
  assert.equal(checker.last?.ok, false)
  assert.match(transitions[0]?.[1] ?? '', /TIMEOUT|abort/i)
})

test('a refused connection fails; a 2xx passes; a 3xx does not', async (t) => {
  let status = 302
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? status : 404
    res.end()
  })
  const port = await listen(server)
  t.after(() => server.close())
  const state = new TargetState('app', `http://127.0.0.1:${port}`)
  const transitions: boolean[] = []
  const checker = new HealthChecker(state, SETTINGS, (_s, healthy) => transitions.push(healthy))
  t.after(() => checker.stop())
  await waitFor(() => transitions.length === 1, { message: 'a 302 is not healthy' })
  assert.equal(checker.last?.detail, 'status 302')
  status = 204
  await waitFor(() => transitions.length === 2, { message: 'a 204 is healthy' })
  assert.deepEqual(transitions, [false, true])

  // Nothing listens there any more: refused connections.
  const gone = net.createServer()
  const closedPort = await listen(gone)
  await new Promise<void>((resolve) => gone.close(() => resolve()))
  const refused = new TargetState('app', `http://127.0.0.1:${closedPort}`)
  const down: string[] = []
  const other = new HealthChecker(refused, SETTINGS, (_s, _h, reason) => down.push(reason))
  t.after(() => other.stop())
  await waitFor(() => down.length === 1, { message: 'a refused target is found unhealthy' })
  assert.equal(down[0], 'ECONNREFUSED')
})
