// Config documents of the hot-reload benchmark (bench/reload.js). Every document carries a
// marker that changes from one reload to the next, so a client can tell which version answered
// it: the body of the `marker` route (GET /__marker, answered by hitless itself) and the
// `x-config-marker` response header of the `bench` route (GET /b/small, proxied to nginx, the
// route of bench/configs/hitless.yaml). Two variants, A and B, spread the routes differently
// over the upstreams, so alternating them changes more than one string.

export const MARKER_PATH = '/__marker'
export const BENCH_PATH = '/b/small'

const UPSTREAM_COUNT = 4

/** The route kinds of the generated routes, by index: 45 % exact, 45 % prefix, 10 % regex. */
function kindOf(i) {
  const k = i % 20
  if (k < 9) return 'exact'
  if (k < 18) return 'prefix'
  return 'regex'
}

/** Whether route `i` strips its own prefix, so that GET <its path>/small reaches nginx's /small. */
const hasRewrite = (i) => i % 10 === 0 || kindOf(i) === 'regex'

/**
 * Route `i` of a generated route table. Every route forwards to one of the upstreams (all of
 * them nginx); every tenth and every regex route has a rewrite that maps it onto nginx's /small
 * (the load asks for those, see loadPaths), every seventh a method constraint, every thirteenth
 * a response header.
 */
function generatedRoute(i, variant) {
  const kind = kindOf(i)
  const base = `/${kind[0]}/${i}`
  const match =
    kind === 'exact'
      ? { path: `${base}/small` }
      : kind === 'prefix'
        ? { prefix: base }
        : { regex: `^/r/${i}/(small|16k)$` }
  if (i % 7 === 0) match.methods = ['GET', 'HEAD']
  const route = { name: `${kind[0]}${i}`, match, upstream: `u${(i + variant) % UPSTREAM_COUNT}` }
  if (hasRewrite(i)) route.rewrite = { strip_prefix: base }
  if (i % 13 === 0) route.headers = { response: { set: { 'x-route': route.name } } }
  return route
}

/**
 * Paths of the generated routes the load asks for (rewritten to /small, answered 200): `perKind`
 * exact, prefix and regex routes each, spread over the table from the first to the last (a late
 * regex is the slowest lookup: regexes are tried in config order).
 */
export function loadPaths(routeCount, perKind = 10) {
  const paths = []
  for (const kind of ['exact', 'prefix', 'regex']) {
    const ids = []
    for (let i = 0; i < routeCount; i++) if (hasRewrite(i) && kindOf(i) === kind) ids.push(i)
    const n = Math.min(perKind, ids.length)
    for (let k = 0; k < n; k++) {
      const i = ids[Math.round((k * (ids.length - 1)) / Math.max(1, n - 1))]
      paths.push(`/${kind[0]}/${i}/small`)
    }
  }
  return paths
}

/**
 * A complete hitless document.
 * @param {object} o
 * @param {number} o.port  listener port   @param {number} o.adminPort  admin listener port
 * @param {number} o.originPort  nginx      @param {string} o.marker  changes every reload
 * @param {number} [o.routes]  generated routes besides `bench` and `marker` (default 100)
 * @param {0 | 1} [o.variant]  A (0) or B (1)
 */
export function reloadDoc({ port, adminPort, originPort, marker, routes = 100, variant = 0 }) {
  const origin = `http://127.0.0.1:${originPort}`
  const upstreams = { origin: { targets: [{ url: origin }], keepalive: { max_connections: 128 } } }
  for (let u = 0; u < UPSTREAM_COUNT; u++) upstreams[`u${u}`] = { targets: [{ url: origin }] }
  const table = []
  for (let i = 0; i < routes; i++) table.push(generatedRoute(i, variant))
  return {
    listeners: [{ name: 'public', address: `127.0.0.1:${port}` }],
    admin: { address: `127.0.0.1:${adminPort}` },
    upstreams,
    routes: [
      {
        name: 'bench',
        match: { prefix: '/b' },
        upstream: 'origin',
        rewrite: { strip_prefix: '/b' },
        headers: {
          request: { set: { 'x-bench': '1' }, remove: ['x-drop-me'] },
          response: {
            set: { 'x-proxied-by': 'hitless', 'x-config-marker': marker },
            remove: ['x-powered-by'],
          },
        },
      },
      { name: 'marker', match: { path: MARKER_PATH }, respond: { status: 200, body: marker } },
      ...table,
    ],
  }
}

/** Compact JSON text of a document (the admin API takes up to 1 MiB). */
export function docText(doc) {
  return JSON.stringify(doc)
}
