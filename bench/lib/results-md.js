// bench/RESULTS.md: each benchmark owns one `## ` section and replaces only that one, so other
// benchmarks keep their own sections in the same file (run.js: "Proxy throughput", reload.js:
// "Hot reload"). Also the machine description.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { nginxVersion } from './nginx.js'
import { loadGenVersion } from './load.js'

export const SECTION_HEADING = '## Proxy throughput (issue 2)'

/** Facts about the run's machine and tools, for the report and the raw JSON. */
export function machineInfo() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8')
  return {
    date: execFileSync('date', ['-u'], { encoding: 'utf8' }).trim(),
    nproc: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? '?',
    kernel: os.release(),
    node: process.version,
    nginx: nginxVersion(),
    loadGen: loadGenVersion(),
  }
}

/** The command line as typed (`npm run <npmScript> -- …` when npm ran it), for the report. */
export function commandLine(npmScript) {
  const args = process.argv.slice(2).map((a) => (/[\s'"]/.test(a) ? `'${a}'` : a))
  if (process.env.npm_lifecycle_event === npmScript) {
    return `npm run ${npmScript}${args.length ? ` -- ${args.join(' ')}` : ''}`
  }
  return ['node', path.relative(process.cwd(), process.argv[1]) || 'run.js', ...args].join(' ')
}

/** "2 cores (`nproc`), CPU, Linux …; Node …, nginx/…, h2load …" for a report's Machine line. */
export function machineLine(machine) {
  return (
    `${machine.nproc} cores (\`nproc\`), ${machine.cpuModel}, Linux ${machine.kernel}; ` +
    `Node ${machine.node}, ${machine.nginx}, ${machine.loadGen ?? machine.wrk}`
  )
}

/**
 * The first lines of every benchmark's section: heading, date, machine, command (`after`, e.g.
 * " (after `npm run build`)", follows the command).
 */
export function sectionHead(heading, machine, command, after = '') {
  return [
    heading,
    '',
    `- Date: ${machine.date}`,
    `- Machine: ${machineLine(machine)}`,
    `- Command: \`${command}\`${after}`,
  ]
}

/** The body of our section (heading included). */
export function renderSection({ machine, command, settings, pin, hitless, table, notes }) {
  const build = hitless
    ? `- hitless build: \`${hitless.cli}\` built ${hitless.builtAt}, repository at ${hitless.commit}` +
      (hitless.srcDirty ? ' with uncommitted changes under src/' : '')
    : '- hitless build: none measured in this run'
  const pinText = pin.enabled
    ? 'h2load and nginx pinned to core 0, the proxy alone on core 1 (`taskset -c`)'
    : `**unpinned** (nproc = ${pin.cores} < 2): load, proxy and origin share the CPU`
  return [
    ...sectionHead(SECTION_HEADING, machine, command),
    build,
    `- Settings: ${settings.rounds} interleaved round(s) × ${settings.durationS} s per cell, ` +
      `${settings.warmupS} s warm-up per cell (not recorded); h2load \`--h1 -t1\`, keep-alive; ${pinText}`,
    '- hitless runs with `--log-level info` (one access-log line per request); its stdout, where ' +
      'that access log goes, is redirected to /dev/null.',
    '- Columns: medians over rounds; `spread` = (max − min) / median of req/s over rounds; ratios ' +
      'are paired per round; CPU µs/req is the proxy process (nginx for `direct`); ' +
      '`new origin conns` = connections nginx accepted during the measured run; `other load` = ' +
      'cores used meanwhile by processes outside the benchmark (a cell is measured again, up to ' +
      `${settings.retries} times, when it exceeds ${settings.maxOtherLoad}). See bench/README.md.`,
    '',
    table,
    ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
    '',
  ].join('\n')
}

/**
 * Replaces the section under `heading` in RESULTS.md (or appends it), leaving every other
 * section as it was. `section` starts with that heading.
 */
/**
 * A benchmark's report: printed on stdout, and (unless `noResultsMd`) put in bench/RESULTS.md in
 * place of the previous section under `heading`.
 */
export async function publishSection(
  section,
  heading,
  { noResultsMd = false, log = () => {} } = {},
) {
  process.stdout.write(`${section}\n`)
  if (noResultsMd) return
  await writeSection(
    path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'RESULTS.md'),
    section,
    heading,
  )
  log('updated bench/RESULTS.md')
}

export async function writeSection(file, section, heading = SECTION_HEADING) {
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmark results\n'
  const lines = old.split('\n')
  const start = lines.findIndex((l) => l.trim() === heading)
  let next
  if (start === -1) {
    next = `${old.trimEnd()}\n\n${section}`
  } else {
    let end = lines.findIndex((l, i) => i > start && /^## /.test(l))
    if (end === -1) end = lines.length
    const before = lines.slice(0, start).join('\n').trimEnd()
    const after = lines.slice(end).join('\n').trim()
    next = `${before ? `${before}\n\n` : ''}${section}${after ? `\n${after}\n` : ''}`
  }
  fs.writeFileSync(file, await prettierMarkdown(next, file))
}

/** Formats with the repository's Prettier when it is installed (`npm run lint` checks bench/). */
async function prettierMarkdown(text, file) {
  try {
    const prettier = await import('prettier')
    const options = (await prettier.resolveConfig(file)) ?? {}
    return await prettier.format(text, { ...options, filepath: file })
  } catch {
    return text.endsWith('\n') ? text : `${text}\n`
  }
}
