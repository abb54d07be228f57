/**
 * The metric-name test (STYLE.md §D): every hitless metric is `hitless_<subsystem>_<what>_<unit>`
 * in snake_case, counters end in `_total`, time in `_seconds`, sizes in `_bytes`, labels are
 * never path-like; default process metrics are the only others. Plus RouteRecorder's mapping of
 * methods and statuses to label values, and the collected gauges.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { GatewayMetrics } from '../../../src/metrics/metrics.ts'

interface RegisteredMetric {
  readonly name: string
  readonly type: string
  readonly labelNames: readonly string[]
}

function registered(metrics: GatewayMetrics): RegisteredMetric[] {
  return metrics.registry.getMetricsAsArray().map((m) => {
    const metric = m as unknown as { name: string; type: string; labelNames?: readonly string[] }
    return { name: metric.name, type: String(metric.type), labelNames: metric.labelNames ?? [] }
  })
}

const SNAKE_CASE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/
/** Units a name must not spell in any other way than the base unit. */
const NON_BASE_UNITS =
  /_(?:ms|millis|milliseconds|us|microseconds|ns|minutes|hours|kb|mb|kib|mib|bits|percent)(?:_|$)/
const PATH_LIKE_LABEL = /(?:^|_)(?:path|paths|url|urls|uri|uris|target_url|query)(?:_|$)/

/** The problems with one hitless metric's name and labels; empty when it follows the rules. */
function namingProblems(metric: RegisteredMetric): string[] {
  const { name, type, labelNames } = metric
  const problems: string[] = []
  if (!SNAKE_CASE.test(name)) problems.push('is not snake_case')
  if (name.split('_').length < 3) problems.push('lacks hitless_<subsystem>_<what>')
  if (NON_BASE_UNITS.test(name)) problems.push('uses a non-base unit')
  if (type === 'counter' && !name.endsWith('_total')) problems.push('is a counter without _total')
  if (type !== 'counter' && name.endsWith('_total')) problems.push(`is a ${type} ending in _total`)
  const stem = name.replace(/_total$/, '')
  if (/duration|latency|time|elapsed|age/.test(stem) && !stem.endsWith('_seconds')) {
    problems.push('measures time but does not end in _seconds')
  }
  if (/size|bytes|length/.test(stem) && !stem.endsWith('_bytes')) {
    problems.push('measures a size but does not end in _bytes')
  }
  if ((type === 'histogram' || type === 'summary') && !/_(?:seconds|bytes)$/.test(name)) {
    problems.push(`is a ${type} without a _seconds or _bytes unit`)
  }
  for (const label of labelNames) {
    if (!SNAKE_CASE.test(label)) problems.push(`label ${label} is not snake_case`)
    if (PATH_LIKE_LABEL.test(label)) problems.push(`label ${label} is path-like (cardinality)`)
  }
  return problems
}

void describe('metric names', () => {
  const all = registered(new GatewayMetrics())
  const ours = all.filter((m) => m.name.startsWith('hitless_'))

  void test('defines hitless metrics', () => {
    assert.ok(ours.length >= 5, `found ${ours.length}`)
  })

  for (const metric of ours) {
    void test(`${metric.name} follows hitless_<subsystem>_<what>_<unit>`, () => {
      assert.deepEqual(namingProblems(metric), [])
    })
  }

  void test('the only other metrics are the default process_* and nodejs_* ones', () => {
    const others = all.filter((m) => !m.name.startsWith('hitless_')).map((m) => m.name)
    assert.ok(others.length > 0, 'default process metrics are collected by default')
    assert.deepEqual(
      others.filter((name) => !/^(?:process|nodejs)_/.test(name)),
      [],
    )
  })

  void test('with processMetrics: false only hitless metrics are registered', () => {
    const names = registered(new GatewayMetrics({ processMetrics: false })).map((m) => m.name)
    assert.deepEqual(
      names.filter((name) => !name.startsWith('hitless_')),
      [],
    )
    assert.deepEqual(names.sort(), ours.map((m) => m.name).sort())
  })

  void test('no label anywhere is named path or url', () => {
    for (const metric of ours) {
      for (const banned of ['path', 'url', 'uri']) {
        assert.ok(!metric.labelNames.includes(banned), `${metric.name} has label ${banned}`)
      }
    }
  })

  void describe('the checker itself', () => {
    const cases: readonly (readonly [RegisteredMetric, string])[] = [
      [
        { name: 'hitless_http_requests', type: 'counter', labelNames: [] },
        'counter without _total',
      ],
      [{ name: 'hitless_http_requestsTotal', type: 'counter', labelNames: [] }, 'not snake_case'],
      [{ name: 'hitless_requests_total', type: 'gauge', labelNames: [] }, 'ending in _total'],
      [{ name: 'hitless_http_duration_ms', type: 'histogram', labelNames: [] }, 'non-base unit'],
      [{ name: 'hitless_http_request_duration', type: 'histogram', labelNames: [] }, '_seconds'],
      [{ name: 'hitless_http_body_size', type: 'histogram', labelNames: [] }, '_bytes'],
      [{ name: 'hitless_http_requests_total', type: 'counter', labelNames: ['path'] }, 'path-like'],
      [{ name: 'hitless_http_requests_total', type: 'counter', labelNames: ['url'] }, 'path-like'],
      [{ name: 'hitless_total', type: 'counter', labelNames: [] }, 'lacks'],
    ]
    for (const [metric, expected] of cases) {
      void test(`flags ${metric.name}${metric.labelNames.length > 0 ? `{${metric.labelNames.join()}}` : ''}`, () => {
        const problems = namingProblems(metric)
        assert.ok(
          problems.some((p) => p.includes(expected)),
          `expected a problem mentioning "${expected}", got ${JSON.stringify(problems)}`,
        )
      })
    }
  })
})

/**
 * The value of the first sample of metric `name` whose labels include all of `labels`
 * (`suffix` picks a histogram's `_count`, `_sum` or `_bucket` samples), or undefined.
 */
async function seriesValue(
  metrics: GatewayMetrics,
  name: string,
  labels: Readonly<Record<string, string>>,
  suffix = '',
): Promise<number | undefined> {
  const text = await metrics.registry.getSingleMetricAsString(name)
  const sample = name + suffix
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${sample}{`) && !line.startsWith(`${sample} `)) continue
    const open = line.indexOf('{')
    const parts = open === -1 ? [] : line.slice(open + 1, line.lastIndexOf('}')).split(',')
    if (wanted.every((w) => parts.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return undefined
}

void describe('RouteRecorder', () => {
  const STATUS_CASES: readonly (readonly [number, string])[] = [
    [100, '1xx'],
    [204, '2xx'],
    [308, '3xx'],
    [404, '4xx'],
    [499, '4xx'],
    [503, '5xx'],
    [599, '5xx'],
    [600, '5xx'],
    [0, '1xx'],
  ]
  for (const [status, statusClass] of STATUS_CASES) {
    void test(`counts status ${status} as ${statusClass}`, async () => {
      const metrics = new GatewayMetrics({ processMetrics: false })
      metrics.recorderFor('r', 'u').record('GET', status, 0.01)
      const value = await seriesValue(metrics, 'hitless_http_requests_total', {
        route: 'r',
        upstream: 'u',
        method: 'GET',
        status_class: statusClass,
      })
      assert.equal(value, 1)
    })
  }

  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    void test(`keeps ${method} as its own method label`, async () => {
      const metrics = new GatewayMetrics({ processMetrics: false })
      metrics.recorderFor('r', 'u').record(method, 200, 0.01)
      const value = await seriesValue(metrics, 'hitless_http_requests_total', { method })
      assert.equal(value, 1)
    })
  }

  void test('counts any other method as OTHER, so clients cannot create series', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false })
    const recorder = metrics.recorderFor('r', 'u')
    for (const method of ['PROPFIND', 'TRACE', 'CONNECT', 'get', 'X'.repeat(50)]) {
      recorder.record(method, 200, 0.01)
    }
    assert.equal(await seriesValue(metrics, 'hitless_http_requests_total', { method: 'OTHER' }), 5)
    const text = await metrics.registry.getSingleMetricAsString('hitless_http_requests_total')
    assert.equal(
      text.split('\n').filter((l) => l.startsWith('hitless_http_requests_total{')).length,
      1,
    )
  })

  void test('adds up repeated requests on one series and keeps routes and upstreams apart', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false })
    const a = metrics.recorderFor('users', 'users-v1')
    const b = metrics.recorderFor('users', 'users-v2')
    a.record('GET', 200, 0.01)
    a.record('GET', 201, 0.01)
    b.record('GET', 200, 0.01)
    const total = 'hitless_http_requests_total'
    assert.equal(
      await seriesValue(metrics, total, { upstream: 'users-v1', status_class: '2xx' }),
      2,
    )
    assert.equal(
      await seriesValue(metrics, total, { upstream: 'users-v2', status_class: '2xx' }),
      1,
    )
  })

  void test('observes request durations in seconds by route and upstream', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false })
    const recorder = metrics.recorderFor('r', 'u')
    recorder.record('GET', 200, 0.004)
    recorder.record('GET', 500, 2)
    const name = 'hitless_http_request_duration_seconds'
    assert.equal(await seriesValue(metrics, name, { route: 'r', upstream: 'u' }, '_count'), 2)
    assert.equal(await seriesValue(metrics, name, { route: 'r', le: '0.005' }, '_bucket'), 1)
    assert.equal(await seriesValue(metrics, name, { route: 'r', le: '2.5' }, '_bucket'), 2)
    const sum = await seriesValue(metrics, name, { route: 'r' }, '_sum')
    assert.ok(sum !== undefined && Math.abs(sum - 2.004) < 1e-9, `sum ${sum}`)
  })

  void test('observes upstream header time by upstream only', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false })
    metrics.recorderFor('r1', 'u').recordUpstream(0.2)
    metrics.recorderFor('r2', 'u').recordUpstream(0.3)
    const name = 'hitless_upstream_response_header_duration_seconds'
    assert.equal(await seriesValue(metrics, name, { upstream: 'u' }, '_count'), 2)
  })
})

void describe('GatewayMetrics gauges and info', () => {
  void test('reads in-flight requests and open connections at scrape time', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false })
    metrics.requestStarted()
    metrics.requestStarted()
    metrics.requestEnded()
    let open = 7
    metrics.setOpenConnectionsSource(() => open)
    assert.equal(metrics.inFlight, 1)
    assert.equal(await seriesValue(metrics, 'hitless_http_requests_in_flight', {}), 1)
    assert.equal(await seriesValue(metrics, 'hitless_http_open_connections', {}), 7)
    open = 3
    assert.equal(await seriesValue(metrics, 'hitless_http_open_connections', {}), 3)
  })

  void test('config info shows only the version now served', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false })
    metrics.setConfigVersion('aaa', 'file')
    metrics.setConfigVersion('bbb', 'file')
    assert.equal(await seriesValue(metrics, 'hitless_config_info', { version: 'bbb' }), 1)
    assert.equal(await seriesValue(metrics, 'hitless_config_info', { version: 'aaa' }), undefined)
  })

  void test('render gives the Prometheus text with its content type', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false })
    const { contentType, body } = await metrics.render()
    assert.match(contentType, /^text\/plain/)
    assert.match(body, /^# HELP hitless_/m)
  })
})
