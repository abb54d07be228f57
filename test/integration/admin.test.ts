/**
 * The admin listener: health and readiness, Prometheus metrics, bearer-token protection, and
 * admin paths never answered on a public listener.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import { startGateway, type TestGateway } from '../helpers/start-gateway.ts'
import { request } from '../helpers/http-client.ts'
import { BUILD_ID, VERSION } from '../../src/version.ts'

describe('admin API', () => {
  let up: FakeUpstream
  let gw: TestGateway

  before(async () => {
    up = await startFakeUpstream()
    gw = await startGateway(
      {
        admin: { address: '127.0.0.1:0', token_env: 'ADMIN_TOKEN' },
        upstreams: { u: { targets: [{ url: up.url }] } },
        routes: [{ name: 'all', match: { prefix: '/app' }, upstream: 'u' }],
      },
      { env: { ADMIN_TOKEN: 's3cret' } },
    )
  })

  after(async () => {
    await gw.close()
    await up.close()
  })

  test('/healthz and /readyz need no token', async () => {
    assert.ok(gw.adminUrl)
    const health = await request(`${gw.adminUrl}/healthz`)
    assert.equal(health.status, 200)
    assert.deepEqual(health.json(), {
      status: 'ok',
      pid: process.pid,
      version: VERSION,
      build: BUILD_ID,
    })
    const ready = await request(`${gw.adminUrl}/readyz`)
    assert.equal(ready.status, 200)
  })

  test('every other call needs the bearer token', async () => {
    const none = await request(`${gw.adminUrl}/metrics`)
    assert.equal(none.status, 401)
    assert.equal(none.headers['www-authenticate'], 'Bearer')
    const wrong = await request(`${gw.adminUrl}/metrics`, {
      headers: { authorization: 'Bearer nope!!' },
    })
    assert.equal(wrong.status, 401)
    const right = await request(`${gw.adminUrl}/metrics`, {
      headers: { authorization: 'Bearer s3cret' },
    })
    assert.equal(right.status, 200)
  })

  test('/metrics exports requests, latency, in-flight, connections, config and process metrics', async () => {
    for (let i = 0; i < 3; i++) await request(`${gw.url}/app/x`)
    await request(`${gw.url}/missing`)
    const res = await request(`${gw.adminUrl}/metrics`, {
      headers: { authorization: 'Bearer s3cret' },
    })
    const text = res.text()
    assert.match(String(res.headers['content-type']), /^text\/plain/)
    assert.match(
      text,
      /hitless_http_requests_total\{route="all",upstream="u",method="GET",status_class="2xx"\} 3/,
    )
    assert.match(
      text,
      /hitless_http_request_duration_seconds_bucket\{le="[^"]+",route="all",upstream="u"\}/,
    )
    assert.match(text, /hitless_upstream_response_header_duration_seconds_count\{upstream="u"\} 3/)
    assert.match(text, /hitless_http_requests_in_flight \d+/)
    assert.match(text, /hitless_http_open_connections \d+/)
    assert.match(text, new RegExp(`hitless_config_info\\{version="${gw.gateway.configVersion}"`))
    assert.match(text, /process_cpu_user_seconds_total/)
    assert.match(text, /nodejs_eventloop_lag_seconds/)
  })

  test('unknown admin paths are 404 and wrong methods 405', async () => {
    const auth = { authorization: 'Bearer s3cret' }
    assert.equal((await request(`${gw.adminUrl}/nope`, { headers: auth })).status, 404)
    assert.equal(
      (await request(`${gw.adminUrl}/metrics`, { method: 'POST', headers: auth })).status,
      405,
    )
  })

  test('admin paths are never answered on the public listener', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await request(`${gw.url}${path}`)
      assert.equal(res.status, 404, path)
      assert.equal(res.json().error, 'no route matches this request')
    }
    assert.equal(up.requests.filter((r) => r.url === '/metrics').length, 0)
  })

  test('a gateway without an admin block opens no admin listener', async () => {
    const g = await startGateway({
      upstreams: { u: { targets: [{ url: up.url }] } },
      routes: [{ match: { prefix: '/' }, upstream: 'u' }],
    })
    try {
      assert.equal(g.adminUrl, null)
    } finally {
      await g.close()
    }
  })

  test('a configured token_env that is unset refuses to start', async () => {
    await assert.rejects(
      startGateway({
        admin: { address: '127.0.0.1:0', token_env: 'MISSING_TOKEN' },
        upstreams: { u: { targets: [{ url: up.url }] } },
        routes: [{ match: { prefix: '/' }, upstream: 'u' }],
      }),
      (err: Error & { code?: string }) => err.code === 'HITLESS_ERR_CONFIG_INVALID',
    )
  })
})
