// CPU time of a process from /proc/PID/stat: utime + stime (fields 14 and 15, all threads of the
// process, in clock ticks), converted to microseconds with `getconf CLK_TCK`.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'

let ticksPerSecond

/** Clock ticks per second (usually 100, i.e. a 10 ms resolution per reading). */
export function clockTicks() {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
  return ticksPerSecond
}

/** utime + stime of PID in clock ticks, or null when the process is gone. */
export function readCpuTicks(pid) {
  let stat
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  return Number(fields[14 - 3]) + Number(fields[15 - 3])
}

/** Descendants of PID now alive (/proc/PID/task/TID/children), so a gateway that forks
 * workers is charged for all of them. */
function descendants(pid) {
  const out = []
  let tids = []
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    let kids = ''
    try {
      kids = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
    } catch {
      continue
    }
    for (const kid of kids.split(' ').filter(Boolean).map(Number))
      out.push(kid, ...descendants(kid))
  }
  return out
}

/** readCpuTicks of PID plus its live descendants (null when PID itself is gone). A child that
 * exits during a run takes its ticks with it (they move to PID's cutime): counted here too. */
export function readTreeCpuTicks(pid) {
  const own = readCpuTicks(pid)
  if (own === null) return null
  const reaped = readReapedChildrenTicks(pid)
  return descendants(pid).reduce((sum, kid) => sum + (readCpuTicks(kid) ?? 0), own + reaped)
}

function readReapedChildrenTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(f[16 - 3]) + Number(f[17 - 3])
  } catch {
    return 0
  }
}

/** Microseconds of CPU per request between two readings. */
export function cpuMicrosPerRequest(ticksBefore, ticksAfter, requests) {
  if (ticksBefore === null || ticksAfter === null || !requests) return null
  return ((ticksAfter - ticksBefore) * 1e6) / clockTicks() / requests
}

/** Busy ticks of the whole machine (all CPUs) from /proc/stat: everything but idle and iowait. */
export function readMachineBusyTicks() {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1)
  const [user, nice, system, , , irq, softirq, steal] = cpu.map(Number)
  return user + nice + system + irq + softirq + steal
}

/** This process's own CPU plus that of its reaped children (h2load), in ticks (fields 14–17). */
export function readSelfAndChildrenTicks() {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return [14, 15, 16, 17].reduce((sum, n) => sum + Number(f[n - 3]), 0)
}

/**
 * Starts measuring the CPU used on this machine by processes outside the benchmark: machine busy
 * time minus this process (and its reaped children, e.g. h2load) minus `pids` and their
 * descendants. The returned function gives the cores used so far; call it before any of `pids`
 * exits (their ticks would then move to this process's children and count twice).
 */
export function startOtherLoadMeter(pids) {
  const read = () => ({
    at: performance.now(),
    machine: readMachineBusyTicks(),
    self: readSelfAndChildrenTicks(),
    ours: pids.reduce((sum, pid) => sum + (readTreeCpuTicks(pid) ?? 0), 0),
  })
  const t0 = read()
  return () => {
    const t1 = read()
    const other = t1.machine - t0.machine - (t1.self - t0.self) - (t1.ours - t0.ours)
    return Math.max(0, other / clockTicks() / ((t1.at - t0.at) / 1000))
  }
}
