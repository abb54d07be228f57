/**
 * The pid file (`--pid-file`): written atomically (temp file, then rename) by a process once it
 * serves, so a reader never sees a half-written or empty file, and after a hot upgrade it names
 * the new process. Removed at exit only by the process it names.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'

export function writePidFile(path: string, pid: number = process.pid): void {
  const temp = `${path}.${pid}.tmp`
  writeFileSync(temp, `${pid}\n`)
  renameSync(temp, path)
}

/** Removes the file if it still names `pid` (a successor may have written its own since). */
export function removePidFile(path: string, pid: number = process.pid): void {
  try {
    if (Number(readFileSync(path, 'utf8').trim()) === pid) rmSync(path)
  } catch {
    // Gone already, or unreadable: nothing of ours to remove.
  }
}

/** The pid a pid file names; throws with a clear message when it is missing or malformed. */
export function readPidFile(path: string): number {
  let text: string
  try {
    text = readFileSync(path, 'utf8').trim()
  } catch (err) {
    const code = (err as { code?: unknown }).code
    const why = code === 'ENOENT' ? 'no such file' : (err as Error).message
    throw new Error(`cannot read ${path}: ${why}`, { cause: err })
  }
  const pid = Number(text)
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${path} does not hold a process id`)
  return pid
}
