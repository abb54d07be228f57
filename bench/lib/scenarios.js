// The benchmarked requests. Paths are origin paths; a candidate may add a prefix (hitless: /b,
// stripped again by its rewrite rule), so nginx sees the same request line through every proxy.

export const SCENARIOS = [
  { id: 'get-small-c64', label: 'GET /small', path: '/small', connections: 64 },
  { id: 'get-small-c1', label: 'GET /small', path: '/small', connections: 1 },
  { id: 'get-16k-c64', label: 'GET /16k', path: '/16k', connections: 64 },
  { id: 'get-16k-c1', label: 'GET /16k', path: '/16k', connections: 1 },
  {
    id: 'post-sink-c64',
    label: 'POST /sink 16 KiB',
    path: '/sink',
    connections: 64,
    bodyBytes: 16 * 1024,
  },
  {
    id: 'post-sink-c1',
    label: 'POST /sink 16 KiB',
    path: '/sink',
    connections: 1,
    bodyBytes: 16 * 1024,
  },
]

// Sent on every request to every candidate: hitless's request rule removes it.
export const EXTRA_HEADERS = ['x-drop-me: 1']

/** Scenarios selected by --scenarios (ids or id prefixes such as "get-small" or "post"). */
export function selectScenarios(filter) {
  if (!filter?.length) return SCENARIOS
  const picked = SCENARIOS.filter((s) => filter.some((f) => s.id === f || s.id.startsWith(f)))
  if (picked.length === 0) {
    throw new Error(
      `--scenarios ${filter.join(',')} matches none of: ${SCENARIOS.map((s) => s.id).join(', ')}`,
    )
  }
  return picked
}
