/** Plain-number request statistics and their Prometheus samples at scrape time. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { HistogramCells, histogramSamples } from '../../../src/metrics/request-stats.ts'
import { GatewayMetrics } from '../../../src/metrics/metrics.ts'

void describe('HistogramCells', () => {
  void test('buckets are cumulative at exposition, with +Inf, _sum and _count', () => {
    const bounds = [0.1, 1, 10]
    const cells = new HistogramCells(bounds)
    for (const v of [0.05, 0.1, 0.5, 5, 50]) cells.observe(v)
    const samples = histogramSamples('x_seconds', { route: 'r' }, cells, bounds)
    const buckets = samples.filter((s) => s.metricName === 'x_seconds_bucket')
    assert.deepEqual(
      buckets.map((b) => [b.labels['le'], b.value]),
      [
        [0.1, 2],
        [1, 3],
        [10, 4],
        ['+Inf', 5],
      ],
    )
    assert.equal(samples.find((s) => s.metricName === 'x_seconds_count')?.value, 5)
    assert.ok(Math.abs(samples.find((s) => s.metricName === 'x_seconds_sum')!.value - 55.65) < 1e-9)
  })
})

void describe('GatewayMetrics request series', () => {
  void test('a reload (a new recorder for the same route) continues the same series', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false })
    metrics.recorderFor('r', 'u').record('GET', 200, 0.002)
    metrics.recorderFor('r', 'u').record('GET', 200, 0.002)
    const text = await metrics.registry.getSingleMetricAsString('hitless_http_requests_total')
    assert.match(
      text,
      /hitless_http_requests_total\{route="r",upstream="u",method="GET",status_class="2xx"\} 2/,
    )
  })

  void test('label values are escaped by the registry', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false })
    metrics.recorderFor('a"b\\c', 'u').record('GET', 200, 0.002)
    const text = await metrics.registry.getSingleMetricAsString(
      'hitless_http_request_duration_seconds',
    )
    assert.match(text, /route="a\\"b\\\\c"/)
  })

  void test('nothing is exported for series that never saw a request', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false })
    metrics.recorderFor('idle', 'u')
    const text = await metrics.render()
    assert.doesNotMatch(text.body, /route="idle"/)
    assert.doesNotMatch(text.body, /upstream="u"/)
  })
})
