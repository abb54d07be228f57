// Summary of a V8 CPU profile (`node --cpu-prof`): where the time went, as self time per
// function, total (inclusive) time per function, and self time per source file or package.
// Used by bench/reload.js --cpu-prof to say what a 10,000-route rebuild spends its time on.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const META = new Set(['(idle)', '(program)', '(garbage collector)', '(root)'])

/** "node_modules/yaml/…" → "yaml", "…/dist/config/parse.js" → "dist/config/parse.js". */
function fileLabel(url, repoDir) {
  if (!url) return '(native)'
  let file = url.startsWith('file://') ? fileURLToPath(url) : url
  const nm = file.lastIndexOf('node_modules/')
  if (nm !== -1) {
    const parts = file.slice(nm + 'node_modules/'.length).split('/')
    return `npm:${parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`
  }
  if (repoDir && file.startsWith(repoDir)) file = path.relative(repoDir, file)
  return file
}

function fnLabel(frame, repoDir) {
  const name = frame.functionName || '(anonymous)'
  if (META.has(name)) return name
  return `${name} ${fileLabel(frame.url, repoDir)}:${frame.lineNumber + 1}`
}

/**
 * Reads one .cpuprofile and returns { totalMs, busyMs, gcMs, self, total, files, groups }: the
 * top `top` entries of each list as [label, ms], busyMs excluding idle time; groups maps each
 * name of `groups` (name → RegExp on function labels) to the ms of samples with a matching
 * function anywhere on their stack. `windowUs` ([from, to], CLOCK_MONOTONIC µs, the clock of
 * process.hrtime and of V8's profile timestamps on Linux) keeps only the samples in between.
 */
export function summariseProfile(file, { repoDir, top = 15, groups = {}, windowUs } = {}) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map()
  const total = new Map()
  const files = new Map()
  const grouped = new Map(Object.keys(groups).map((name) => [name, 0]))
  const add = (map, key, ms) => map.set(key, (map.get(key) ?? 0) + ms)
  let totalMs = 0
  let idleMs = 0
  let gcMs = 0
  let atUs = profile.startTime
  profile.samples.forEach((id, i) => {
    atUs += profile.timeDeltas[i] ?? 0
    if (windowUs && (atUs < windowUs[0] || atUs > windowUs[1])) return
    const ms = (profile.timeDeltas[i] ?? 0) / 1000
    totalMs += ms
    const node = byId.get(id)
    const frame = node.callFrame
    if (frame.functionName === '(idle)') {
      idleMs += ms
      return
    }
    if (frame.functionName === '(garbage collector)') gcMs += ms
    add(self, fnLabel(frame, repoDir), ms)
    if (!META.has(frame.functionName)) add(files, fileLabel(frame.url, repoDir), ms)
    // Total time: every distinct function on the sample's stack, once (recursion counted once).
    const seen = new Set()
    for (let n = node; n; n = byId.get(parent.get(n.id))) {
      const label = fnLabel(n.callFrame, repoDir)
      if (META.has(n.callFrame.functionName) || seen.has(label)) continue
      seen.add(label)
      add(total, label, ms)
    }
    for (const [name, re] of Object.entries(groups)) {
      if ([...seen].some((label) => re.test(label))) add(grouped, name, ms)
    }
  })
  const topOf = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([label, ms]) => [label, Math.round(ms)])
  return {
    totalMs: Math.round(totalMs),
    busyMs: Math.round(totalMs - idleMs),
    gcMs: Math.round(gcMs),
    self: topOf(self),
    total: topOf(total),
    files: topOf(files),
    groups: Object.fromEntries([...grouped].map(([name, ms]) => [name, Math.round(ms)])),
  }
}

/** Human-readable lines of a summary (for stderr). */
export function formatProfile(summary) {
  const pct = (ms) => `${((100 * ms) / Math.max(1, summary.busyMs)).toFixed(1)}%`
  const list = (title, rows) => [
    title,
    ...rows.map(([label, ms]) => `  ${String(ms).padStart(7)} ms ${pct(ms).padStart(6)}  ${label}`),
  ]
  return [
    `busy ${summary.busyMs} ms of ${summary.totalMs} ms profiled (GC ${summary.gcMs} ms)`,
    ...list('total (inclusive) time by function:', summary.total),
    ...list('self time by function:', summary.self),
    ...list('self time by file / package:', summary.files),
  ]
}
