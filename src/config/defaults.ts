/**
 * Built-in defaults, written the way a user would write them in the document. `normalize.ts`
 * applies them and `schema.ts` quotes them in the key descriptions, so docs and behaviour agree.
 */

/** Every value hitless uses when the document leaves a key out. */
export const DEFAULTS = {
  timeouts: { connect: '5s', response_header: '30s', idle: '60s' },
  retries: {
    attempts: 1,
    on: ['connect-failure', 'reset', '502', '503', '504'],
    non_idempotent: false,
  },
  drain_timeout: '30s',
  limits: { max_header_bytes: 16_384, max_body_bytes: 10_485_760, header_timeout: '10s' },
  balancer: 'round-robin',
  hash_key: 'client-ip',
  weight: 1,
  keepalive: { max_connections: 128, idle_timeout: '30s' },
  health_check: { interval: '5s', timeout: '1s', healthy_threshold: 2, unhealthy_threshold: 3 },
  outlier: { consecutive_failures: 5, ejection_time: '30s', max_ejection_percent: 50 },
  dns_interval: '10s',
  respond: { status: 200, body: '' },
  redirect_status: 302,
  min_requests: 20,
} as const
