// From raw per-round samples to one row per scenario × candidate (medians over rounds, ratios
// paired per round), and from rows to an aligned Markdown table (the layout Prettier keeps).
import { errorCount } from './load.js'

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = v.length >> 1
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

/** rps(candidate) / rps(baseline) in each round where both were measured, then the median. */
function pairedRatio(mine, theirs) {
  const byRound = new Map(theirs.map((s) => [s.round, s.rps]))
  return median(mine.filter((s) => byRound.get(s.round)).map((s) => s.rps / byRound.get(s.round)))
}

const ERROR_KINDS = ['failed', 'errored', 'timeout', 'status']

/**
 * One summary row per scenario × candidate. `skipped` maps candidate name → reason for
 * candidates never started; samples with `failed` count as failures of that round.
 */
export function summarise({ scenarios, candidates, samples, skipped }) {
  const rows = []
  for (const sc of scenarios) {
    const ok = (name) =>
      samples.filter((s) => s.scenario === sc.id && s.candidate === name && !s.failed)
    for (const name of candidates) {
      const row = { scenario: sc.id, label: sc.label, connections: sc.connections, candidate: name }
      rows.push(row)
      if (skipped[name]) {
        row.notes = [skipped[name]]
        continue
      }
      const mine = ok(name)
      const failed = samples.filter((s) => s.scenario === sc.id && s.candidate === name && s.failed)
      const rps = mine.map((s) => s.rps)
      Object.assign(row, {
        rounds: mine.length,
        rps: median(rps),
        spread: mine.length > 1 ? (Math.max(...rps) - Math.min(...rps)) / median(rps) : null,
        vsMinimal: name === 'minimal' ? null : pairedRatio(mine, ok('minimal')),
        vsDirect: name === 'direct' ? null : pairedRatio(mine, ok('direct')),
        p50Us: median(mine.map((s) => s.latencyUs.p50)),
        p99Us: median(mine.map((s) => s.latencyUs.p99)),
        cpuUsPerReq: median(mine.map((s) => s.cpuUsPerReq)),
        originCpuUsPerReq: median(mine.map((s) => s.originCpuUsPerReq)),
        originConns: median(mine.map((s) => s.originConns)),
        otherLoadCores: median(mine.map((s) => s.otherLoadCores)),
        errors:
          mine.length === 0
            ? null
            : Object.fromEntries(
                ERROR_KINDS.map((k) => [k, mine.reduce((n, s) => n + s.errors[k], 0)]),
              ),
        notes: [
          ...new Set([
            ...failed.map((s) => `round ${s.round} failed: ${s.failed}`),
            ...mine.flatMap((s) => s.warnings ?? []),
          ]),
        ],
      })
    }
  }
  return rows
}

const fmt = {
  int: (v) => (v === null || v === undefined ? '—' : String(Math.round(v))),
  ratio: (v) => (v === null || v === undefined ? '—' : `${v.toFixed(2)}×`),
  pct: (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`),
  ms: (us) => (us === null || us === undefined ? '—' : (us / 1000).toFixed(us >= 10_000 ? 2 : 3)),
  cpu: (v) => (v === null || v === undefined ? '—' : v.toFixed(1)),
}

function errorsCell(row) {
  if (!row.errors) return ''
  const total = errorCount(row.errors)
  if (total === 0) return '0'
  const parts = ERROR_KINDS.filter((k) => row.errors[k]).map(
    (k) => `${k === 'status' ? 'non-2xx' : k} ${row.errors[k]}`,
  )
  return `**${total}** (${parts.join(', ')})`
}

const COLUMNS = [
  ['scenario', 'left', (r) => `${r.label} c${r.connections}`],
  ['candidate', 'left', (r) => r.candidate],
  ['req/s', 'right', (r) => fmt.int(r.rps)],
  ['spread', 'right', (r) => fmt.pct(r.spread)],
  [
    'vs minimal',
    'right',
    (r) => (r.candidate === 'minimal' && r.rps ? '1.00×' : fmt.ratio(r.vsMinimal)),
  ],
  [
    'vs direct',
    'right',
    (r) => (r.candidate === 'direct' && r.rps ? '1.00×' : fmt.ratio(r.vsDirect)),
  ],
  ['p50 ms', 'right', (r) => fmt.ms(r.p50Us)],
  ['p99 ms', 'right', (r) => fmt.ms(r.p99Us)],
  ['CPU µs/req', 'right', (r) => fmt.cpu(r.cpuUsPerReq)],
  ['new origin conns', 'right', (r) => fmt.int(r.originConns)],
  ['other load', 'right', (r) => (r.otherLoadCores == null ? '—' : r.otherLoadCores.toFixed(2))],
  ['errors', 'left', errorsCell],
  ['notes', 'left', (r) => (r.notes ?? []).join('; ')],
]

/** The Markdown table, cells padded so that Prettier leaves it as it is. */
export function renderTable(rows) {
  const cells = rows.map((r) => COLUMNS.map(([, , get]) => String(get(r))))
  return alignedTable(
    COLUMNS.map(([head, align]) => [head, align]),
    cells,
  )
}

/**
 * A Markdown table from `columns` ([heading, 'left' | 'right']) and rows of cell texts, padded
 * the way Prettier pads (so `prettier --check` accepts it as printed); `|` in a cell is escaped.
 */
export function alignedTable(columns, rows) {
  const cells = rows.map((r) => r.map((c) => String(c).replace(/\|/g, '\\|')))
  const widths = columns.map(([head], i) =>
    Math.max(3, head.length, ...cells.map((c) => [...c[i]].length)),
  )
  const pad = (text, i) => {
    const fill = ' '.repeat(widths[i] - [...text].length)
    return columns[i][1] === 'right' ? fill + text : text + fill
  }
  const line = (texts) => `| ${texts.map(pad).join(' | ')} |`
  const rule = columns.map(([, align], i) =>
    align === 'right' ? `${'-'.repeat(widths[i] - 1)}:` : '-'.repeat(widths[i]),
  )
  return [line(columns.map(([head]) => head)), `| ${rule.join(' | ')} |`, ...cells.map(line)].join(
    '\n',
  )
}
