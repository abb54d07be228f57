/**
 * The zod schema of the raw config document (SPEC §2): structure, types, ranges and the format
 * of every string. Each key's description is user documentation: docs/config.md is rendered
 * from it. Cross-references (does that upstream exist?) are checked later, in `semantic.ts`.
 */
import { z } from 'zod'
import { DEFAULTS } from './defaults.ts'
import type { FormatResult } from './formats.ts'
import { closestMatch } from './suggest.ts'
import {
  isEnvName,
  isHeaderValue,
  isHostname,
  isNameServer,
  isToken,
  parseAddress,
  parseDuration,
  parseHashKey,
  parseHostPattern,
  parseOriginUrl,
  parsePath,
  parseRegex,
  parseStickyKey,
  REDIRECT_PLACEHOLDERS,
  unknownPlaceholders,
} from './formats.ts'

/** Names of string formats (`duration`, `address`…), for docs/config.md and hints. */
export const formatRegistry = z.registry<{ readonly format: string }>()

type Check = (text: string) => FormatResult<unknown>

function formatted(format: string, check: Check) {
  return z
    .string()
    .check((ctx) => {
      const result = check(ctx.value)
      if (result.ok) return
      const params = result.hint === undefined ? {} : { hint: result.hint }
      ctx.issues.push({ code: 'custom', message: result.message, input: ctx.value, params })
    })
    .register(formatRegistry, { format })
}

function predicate(test: (text: string) => boolean, message: (text: string) => string): Check {
  return (text) => (test(text) ? { ok: true, value: text } : { ok: false, message: message(text) })
}

function duration(opts: { allowZero?: boolean } = {}) {
  return formatted('duration', (text) => {
    const result = parseDuration(text)
    if (result.ok && result.value === 0 && opts.allowZero !== true) {
      return { ok: false, message: 'must be longer than 0' }
    }
    return result
  })
}

const count = (min: number) => z.int().min(min)
const name = z.string().min(1)
const address = formatted('address', parseAddress)
const pathPrefix = formatted('path', parsePath)
const originUrl = formatted('url', parseOriginUrl)
const regex = formatted('regex', parseRegex)
const headerName = formatted(
  'header name',
  predicate(isToken, (t) => `invalid header name "${t}"`),
)
const headerValue = formatted(
  'header value',
  predicate(isHeaderValue, () => 'header values must not contain control characters'),
)
const headerMap = z.record(headerName, headerValue)
const hostAndPort = formatted(
  'host',
  predicate(
    (t) => isHostname(t.replace(/:\d{1,5}$/, '')),
    (t) => `invalid host "${t}"`,
  ),
)
const location = formatted('location', (text) => {
  const unknown = unknownPlaceholders(text)
  if (unknown.length === 0) return { ok: true, value: text }
  const first = unknown[0] ?? ''
  const known = REDIRECT_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')
  const near = closestMatch(first, REDIRECT_PLACEHOLDERS)
  const message = `unknown placeholder {${first}}; supported: ${known}`
  return near === undefined ? { ok: false, message } : { ok: false, message, hint: `{${near}}` }
})

const RETRY_NAMES = ['connect-failure', 'reset', 'timeout', 'connect-timeout'] as const
const RETRY_STATUSES = [500, 502, 503, 504] as const
const retryCondition = z
  .union(
    [
      z.enum([
        'connect-failure',
        'reset',
        'timeout',
        'connect-timeout',
        '500',
        '502',
        '503',
        '504',
      ]),
      z.literal(RETRY_STATUSES),
    ],
    { error: `expected one of ${[...RETRY_NAMES, ...RETRY_STATUSES].join(', ')}` },
  )
  .register(formatRegistry, { format: 'retry condition' })

type DefaultText = (key: string, builtIn: string | number) => string

const builtInDefault: DefaultText = (_key, builtIn) => `Default \`${builtIn}\`.`
const inheritDefault =
  (from: string): DefaultText =>
  (key) =>
    `Default: \`${from}.${key}\`.`

function timeouts(fallback: DefaultText) {
  const d = DEFAULTS.timeouts
  return z.strictObject({
    connect: duration()
      .describe(`TCP (and TLS) connect to a target. ${fallback('connect', d.connect)}`)
      .optional(),
    response_header: duration()
      .describe(
        `From the request being sent to the response headers arriving; exceeding it is a 504. ${fallback('response_header', d.response_header)}`,
      )
      .optional(),
    idle: duration()
      .describe(
        `No bytes in either direction on an established exchange. ${fallback('idle', d.idle)}`,
      )
      .optional(),
  })
}

function retryFields(fallback: DefaultText) {
  const conditions = [...RETRY_NAMES, ...RETRY_STATUSES].join(', ')
  return {
    attempts: count(0)
      .max(10)
      .describe(
        `Extra attempts after the first (0 disables retries). ${fallback('attempts', DEFAULTS.retries.attempts)}`,
      )
      .optional(),
    on: z
      .array(retryCondition)
      .describe(
        `Failures that may be retried: ${conditions}; statuses may be written as numbers or strings. ${fallback('on', `[${DEFAULTS.retries.on.join(', ')}]`)}`,
      )
      .optional(),
  }
}

const listener = z.strictObject({
  name: name
    .describe('Name used in logs and metrics; unique. Default `listener-<index>`.')
    .optional(),
  address: address.describe(
    'Where to accept connections: `host:port`, `[ipv6]:port` or `unix:/path/to.sock`. Port 0 picks a free port.',
  ),
  tls: z
    .strictObject({
      cert: name.describe('Path to the PEM certificate chain (relative to the working directory).'),
      key: name.describe('Path to the PEM private key (relative to the working directory).'),
    })
    .describe('Serve HTTPS with this certificate and key instead of plain HTTP.')
    .optional(),
})

const admin = z.strictObject({
  address: address.describe(
    'Address of the admin API. A non-loopback address requires `token_env`; a unix socket counts as local.',
  ),
  token_env: formatted(
    'env name',
    predicate(isEnvName, (t) => `"${t}" is not an environment variable name`),
  )
    .describe(
      'Name of the environment variable holding the bearer token that every admin call except `/healthz` and `/readyz` must present. The token itself never appears in the config.',
    )
    .optional(),
})

const defaults = z.strictObject({
  timeouts: timeouts(builtInDefault)
    .describe('Upstream timeouts; an upstream or a route may override each key.')
    .optional(),
  retries: z
    .strictObject(retryFields(builtInDefault))
    .describe('Retry policy of every route; a route may override each key.')
    .optional(),
  drain_timeout: duration({ allowZero: true })
    .describe(
      `On shutdown or upgrade, how long in-flight requests and tunnels may run before they are cut. Default \`${DEFAULTS.drain_timeout}\`.`,
    )
    .optional(),
  limits: z
    .strictObject({
      max_header_bytes: count(1024)
        .describe(
          `Largest request head accepted; more is a 431. Default \`${DEFAULTS.limits.max_header_bytes}\`.`,
        )
        .optional(),
      max_body_bytes: count(0)
        .describe(
          `Largest request body accepted; more is a 413. A route may override it. Default \`${DEFAULTS.limits.max_body_bytes}\` (10 MiB).`,
        )
        .optional(),
      header_timeout: duration()
        .describe(
          `Time a client has to send the request head (slow-loris guard). Default \`${DEFAULTS.limits.header_timeout}\`.`,
        )
        .optional(),
    })
    .describe('Client-side limits.')
    .optional(),
})

const target = z.strictObject({
  url: originUrl.describe(
    '`http://host:port` or `https://host:port`; no path, query or credentials.',
  ),
  weight: count(1)
    .describe(
      `Positive integer share of traffic for weighted balancers. Default \`${DEFAULTS.weight}\`.`,
    )
    .optional(),
})

const healthCheck = z.strictObject({
  path: pathPrefix.describe(
    'Path probed with GET on each target; a 2xx answer is healthy. Required: a wrong default would mark every target down.',
  ),
  interval: duration()
    .describe(`Time between probes. Default \`${DEFAULTS.health_check.interval}\`.`)
    .optional(),
  timeout: duration()
    .describe(
      `A probe slower than this fails; at most \`interval\`. Default \`${DEFAULTS.health_check.timeout}\`.`,
    )
    .optional(),
  healthy_threshold: count(1)
    .describe(
      `Consecutive successes that make a target healthy again. Default \`${DEFAULTS.health_check.healthy_threshold}\`.`,
    )
    .optional(),
  unhealthy_threshold: count(1)
    .describe(
      `Consecutive failures that make a target unhealthy. Default \`${DEFAULTS.health_check.unhealthy_threshold}\`.`,
    )
    .optional(),
})

const outlier = z.strictObject({
  consecutive_failures: count(1)
    .describe(
      `Failed requests in a row that eject a target. Default \`${DEFAULTS.outlier.consecutive_failures}\`.`,
    )
    .optional(),
  ejection_time: duration()
    .describe(
      `How long an ejected target gets no traffic. Default \`${DEFAULTS.outlier.ejection_time}\`.`,
    )
    .optional(),
  max_ejection_percent: count(0)
    .max(100)
    .describe(
      `Upper bound on the share of targets ejected at once. Default \`${DEFAULTS.outlier.max_ejection_percent}\`.`,
    )
    .optional(),
})

const discovery = z.strictObject({
  dns: z
    .strictObject({
      name: formatted(
        'host',
        predicate(isHostname, (t) => `invalid DNS name "${t}"`),
      ).describe('DNS name whose A/AAAA records are the targets.'),
      port: count(1).max(65_535).describe('Port of every discovered target.'),
      interval: duration()
        .describe(`How often the name is resolved again. Default \`${DEFAULTS.dns_interval}\`.`)
        .optional(),
      servers: z
        .array(
          formatted(
            'name-server',
            predicate(isNameServer, (t) => `invalid name server "${t}" (an IP, or IP:port)`),
          ),
        )
        .min(1)
        .describe(
          "Name servers to ask (`IP` or `IP:port`), as nginx's `resolver`. Default: the system resolver (getaddrinfo, /etc/hosts included).",
        )
        .optional(),
    })
    .describe('Targets from DNS records.')
    .optional(),
  etcd: z
    .strictObject({
      prefix: name.describe(
        'etcd key prefix; each key below it holds one target `{"url": …, "weight": …}`.',
      ),
    })
    .describe('Targets from an etcd prefix, kept current by a watch.')
    .optional(),
})

const upstream = z.strictObject({
  balancer: z
    .enum(['round-robin', 'weighted', 'least-request', 'random', 'consistent-hash'])
    .describe(
      `How a target is chosen: \`round-robin\`, \`weighted\` (smooth weighted round robin), \`least-request\` (power of two choices), \`random\` or \`consistent-hash\`. Default \`${DEFAULTS.balancer}\`.`,
    )
    .optional(),
  hash_key: formatted('hash key', parseHashKey)
    .describe(
      `\`consistent-hash\` only: what a request is hashed on, \`header:NAME\`, \`cookie:NAME\`, \`client-ip\` or \`path\`. Default \`${DEFAULTS.hash_key}\`.`,
    )
    .optional(),
  targets: z
    .array(target)
    .describe('Static targets. Required and non-empty unless `discovery` is set.')
    .optional(),
  health_check: healthCheck
    .describe('Active health checks; absent means targets are never probed.')
    .optional(),
  outlier: outlier
    .describe('Passive outlier detection; absent means targets are never ejected.')
    .optional(),
  discovery: discovery.describe('Dynamic targets: exactly one of `dns` or `etcd`.').optional(),
  keepalive: z
    .strictObject({
      max_connections: count(1)
        .describe(
          `Most pooled connections per target. Default \`${DEFAULTS.keepalive.max_connections}\`.`,
        )
        .optional(),
      idle_timeout: duration()
        .describe(
          `An idle pooled connection is closed after this. Default \`${DEFAULTS.keepalive.idle_timeout}\`.`,
        )
        .optional(),
    })
    .describe('Connection pool to each target.')
    .optional(),
  timeouts: timeouts(inheritDefault('defaults.timeouts'))
    .describe('Overrides of `defaults.timeouts`, key by key.')
    .optional(),
})

const match = z.strictObject({
  path: pathPrefix.describe('Exact path match (highest precedence).').optional(),
  prefix: pathPrefix
    .describe(
      'Segment-aware prefix: `/api` matches `/api` and `/api/x`, not `/apiary`. The longest matching prefix wins.',
    )
    .optional(),
  regex: regex
    .describe(
      'JavaScript regular expression tried against the path, in config order, after exact and prefix routes.',
    )
    .optional(),
  methods: z
    .array(
      formatted(
        'method',
        predicate(isToken, (t) => `invalid method "${t}"`),
      ),
    )
    .min(1)
    .describe('Only these methods (case-insensitive).')
    .optional(),
  hosts: z
    .array(formatted('host pattern', parseHostPattern))
    .min(1)
    .describe('Only these hosts (case-insensitive); `*.example.com` matches any subdomain.')
    .optional(),
  headers: headerMap
    .describe('Only requests carrying each of these headers with exactly this value.')
    .optional(),
})

const splitBackend = z.strictObject({
  upstream: name.describe('Name of an upstream.'),
  weight: count(1).describe("Positive integer share of the route's traffic."),
})

const respond = z.strictObject({
  status: count(200)
    .max(599)
    .describe(`Status code, 200-599. Default \`${DEFAULTS.respond.status}\`.`)
    .optional(),
  body: z.string().describe('Response body. Default empty.').optional(),
  headers: headerMap.describe('Response headers.').optional(),
})

const redirect = z.strictObject({
  location: location.describe(
    'Target of the redirect; may contain `{path}`, `{query}`, `{uri}` (path and query) and `{host}` from the request.',
  ),
  status: z
    .literal([301, 302, 303, 307, 308])
    .describe(`One of 301, 302, 303, 307, 308. Default \`${DEFAULTS.redirect_status}\`.`)
    .optional(),
})

const rewrite = z.strictObject({
  strip_prefix: pathPrefix.describe('Removed from the start of the path when present.').optional(),
  add_prefix: pathPrefix.describe('Put in front of the path (after `strip_prefix`).').optional(),
  regex: z
    .tuple([regex, z.string()])
    .describe('`[pattern, replacement]` applied to the path; the replacement may use `$1` groups.')
    .optional(),
  host: hostAndPort.describe("Host header sent upstream instead of the client's.").optional(),
})

const headerOps = z.strictObject({
  set: headerMap.describe('Headers set, replacing any existing value.').optional(),
  add: headerMap.describe('Headers appended, keeping existing values.').optional(),
  remove: z.array(headerName).describe('Header names removed.').optional(),
})

const route = z.strictObject({
  name: name.describe('Name used in logs and metrics; unique. Default `route-<index>`.').optional(),
  match: match.describe(
    'Which requests the route takes: exactly one of `path`, `prefix`, `regex`, plus optional constraints.',
  ),
  upstream: name.describe('Action: forward to this upstream.').optional(),
  split: z
    .array(splitBackend)
    .min(1)
    .describe('Action: forward to upstreams in proportion to their weights.')
    .optional(),
  respond: respond.describe('Action: answer directly, without an upstream.').optional(),
  redirect: redirect.describe('Action: answer with a redirect.').optional(),
  rewrite: rewrite.describe("Changes to the forwarded request's path and host.").optional(),
  headers: z
    .strictObject({
      request: headerOps.describe('Applied to the request sent upstream.').optional(),
      response: headerOps.describe('Applied to the response sent to the client.').optional(),
    })
    .describe('Header operations.')
    .optional(),
  retries: z
    .strictObject({
      ...retryFields(inheritDefault('defaults.retries')),
      non_idempotent: z
        .boolean()
        .describe(
          `Also retry non-idempotent methods (POST, PATCH) while the body fits the 64 KiB replay buffer. Default \`${DEFAULTS.retries.non_idempotent}\`.`,
        )
        .optional(),
    })
    .describe('Overrides of `defaults.retries`, key by key.')
    .optional(),
  timeouts: timeouts(() => "Default: the upstream's.")
    .describe("Overrides of the upstream's timeouts for this route.")
    .optional(),
  limits: z
    .strictObject({
      max_body_bytes: count(0)
        .describe(
          'Largest request body for this route; overrides `defaults.limits.max_body_bytes`.',
        )
        .optional(),
    })
    .describe('Per-route limits.')
    .optional(),
})

const rollout = z.strictObject({
  canary_percent: z
    .number()
    .min(0)
    .max(100)
    .describe('Share of new requests (0-100) sent to the canary version.'),
  window: duration().describe('How long the canary runs before it is promoted.'),
  max_error_rate: z
    .number()
    .min(0)
    .max(1)
    .describe(
      "5xx rate (0-1) above which, if also above the stable version's, the canary is rolled back.",
    ),
  min_requests: count(1)
    .describe(
      `Canary requests seen before a rollback may be decided. Default \`${DEFAULTS.min_requests}\`.`,
    )
    .optional(),
  sticky: formatted('sticky key', parseStickyKey)
    .describe(
      'Keep a client on one version by `client-ip`, `header:NAME` or `cookie:NAME`. Default: chosen per request.',
    )
    .optional(),
})

/** The whole config document as written (after `${VAR}` interpolation). */
export const documentSchema = z
  .strictObject({
    listeners: z
      .array(listener)
      .min(1)
      .describe('Where the gateway accepts traffic; at least one.'),
    admin: admin
      .describe('The admin API (health, metrics, reload, …). Absent: no admin listener.')
      .optional(),
    defaults: defaults.describe('Values every upstream and route inherits.').optional(),
    upstreams: z
      .record(name, upstream)
      .describe('Upstream services by name: a set of targets and how to pick one.')
      .optional(),
    routes: z
      .array(route)
      .describe('Routing rules. Exact paths win over prefixes, prefixes over regexes.')
      .optional(),
    etcd: z
      .strictObject({
        endpoints: z.array(originUrl).min(1).describe('Cluster member URLs.'),
      })
      .describe(
        'The etcd cluster used by etcd discovery. Default in fleet mode: the `--etcd` cluster.',
      )
      .optional(),
    rollout: rollout
      .describe('Apply this document as a canary first and promote or roll it back automatically.')
      .optional(),
  })
  .describe('A hitless config document.')

/** The raw document type, inferred from the schema (never a hand-written copy). */
export type RawConfigDocument = z.infer<typeof documentSchema>
/** One route as written. */
export type RawRoute = NonNullable<RawConfigDocument['routes']>[number]
/** One upstream as written. */
export type RawUpstream = NonNullable<RawConfigDocument['upstreams']>[string]
