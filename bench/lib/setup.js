// Makes the machine ready: nginx and h2load (nghttp2-client) from Debian (apt-get, as root), and the bench's own npm
// dependencies in bench/node_modules (never the root package.json).
import { execFileSync, execSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const PACKAGES = { nginx: 'nginx', h2load: 'nghttp2-client' }

function has(cmd) {
  try {
    execSync(`command -v ${cmd}`, { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Installs the missing tools with apt-get. Debian's nginx package tries to start a system
 * service on port 80; the bench never uses it (it runs its own nginx from a temp dir). */
export function ensureTools(log) {
  const missing = Object.keys(PACKAGES).filter((cmd) => !has(cmd))
  if (missing.length === 0) return
  const pkgs = missing.map((cmd) => PACKAGES[cmd])
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing ${missing.join(', ')}: run as root or: apt-get install -y ${pkgs.join(' ')}`,
    )
  }
  log(`installing ${pkgs.join(' ')} with apt-get ...`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'], env })
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  })
  const still = missing.filter((cmd) => !has(cmd))
  if (still.length) throw new Error(`still missing after apt-get: ${still.join(', ')}`)
}

/** Installs bench/package.json's dependencies into bench/node_modules when any is missing. */
export function ensureDeps(benchDir, log) {
  const pkg = JSON.parse(fs.readFileSync(path.join(benchDir, 'package.json'), 'utf8'))
  const missing = Object.keys(pkg.dependencies).filter(
    (name) => !fs.existsSync(path.join(benchDir, 'node_modules', name, 'package.json')),
  )
  if (missing.length === 0) return
  const lock = fs.existsSync(path.join(benchDir, 'package-lock.json'))
  const args = [lock ? 'ci' : 'install', '--no-audit', '--no-fund', '--loglevel=error']
  log(`installing bench dependencies (npm ${args[0]} in bench/) ...`)
  execFileSync('npm', args, { cwd: benchDir, stdio: ['ignore', 'ignore', 'inherit'] })
}
