/**
 * Listening sockets this process inherited as file descriptors, from the process it replaces
 * (hot upgrade, SPEC §5) or from systemd socket activation (LISTEN_FDS). A listener or the admin
 * API whose address matches one takes it over instead of binding, so the socket, its backlog
 * and every connection waiting in it survive the change of process.
 */
import { closeSync, readFileSync, readlinkSync } from 'node:fs'
import type { Server } from 'node:net'

/** Environment variable through which an upgrading process describes the sockets it hands over. */
export const INHERITED_FDS_ENV = 'HITLESS_INHERITED_FDS'

/**
 * One inherited socket: its descriptor and the address it is bound to (see `socketKey`),
 * prefixed with its use (`listener@…` or `admin@…`) when a hot upgrade handed it over, so that a
 * public listener and the admin API both on `127.0.0.1:0` are told apart.
 */
export interface InheritedSocket {
  readonly fd: number
  readonly key: string
}

type Address =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string }

/**
 * The identity of a listening address: `host:port` (IPv6 hosts in canonical form) or
 * `unix:/path`. Two configs that name the same socket give the same key.
 */
export function socketKey(address: Address): string {
  if (address.kind === 'unix') return `unix:${address.path}`
  return `${canonicalHost(address.host)}:${address.port}`
}

function canonicalHost(host: string): string {
  if (!host.includes(':')) return host
  try {
    return new URL(`http://[${host}]/`).hostname.slice(1, -1)
  } catch {
    return host
  }
}

/** The descriptor of a listening node:net server, or null (not listening, or not on Unix). */
export function fdOf(server: Server): number | null {
  // node:net keeps the libuv handle in `_handle`; its `fd` is public on Unix and is what
  // `listen({ fd })` takes on the other side. There is no other way to name the socket.
  const handle = (server as unknown as { _handle?: { fd?: unknown } | null })._handle
  const fd = handle?.fd
  return typeof fd === 'number' && fd >= 0 ? fd : null
}

export type SocketUse = 'listener' | 'admin'

export class InheritedSockets {
  readonly #byKey = new Map<string, number>()

  constructor(sockets: readonly InheritedSocket[]) {
    for (const s of sockets) this.#byKey.set(s.key, s.fd)
  }

  get size(): number {
    return this.#byKey.size
  }

  /**
   * The descriptor bound to `address` for this use, handed out once; undefined when none was
   * inherited. A socket described by its address alone (systemd) serves either use.
   */
  take(address: Address, use: SocketUse): number | undefined {
    for (const key of [`${use}@${socketKey(address)}`, socketKey(address)]) {
      const fd = this.#byKey.get(key)
      if (fd === undefined) continue
      this.#byKey.delete(key)
      return fd
    }
    return undefined
  }

  /** Closes the sockets no listener took (the new config no longer listens there). */
  closeUnclaimed(): string[] {
    const keys = [...this.#byKey.keys()]
    for (const fd of this.#byKey.values()) {
      try {
        closeSync(fd)
      } catch {
        // Already closed: nothing to release.
      }
    }
    this.#byKey.clear()
    return keys
  }

  /**
   * What this process inherited: the hand-over of an upgrade (HITLESS_INHERITED_FDS, a JSON list
   * of `{fd, key}`) or systemd socket activation (LISTEN_FDS for LISTEN_PID = this process; the
   * descriptors start at 3 and their addresses are read from /proc). The variables are removed
   * from `env` so that a later upgrade does not pass them on.
   */
  static fromEnv(env: NodeJS.ProcessEnv, pid: number): InheritedSockets {
    const own = env[INHERITED_FDS_ENV]
    delete env[INHERITED_FDS_ENV]
    if (own !== undefined && own !== '') return new InheritedSockets(parseOwn(own))
    const count = Number(env['LISTEN_FDS'])
    const forPid = Number(env['LISTEN_PID'])
    delete env['LISTEN_FDS']
    delete env['LISTEN_PID']
    delete env['LISTEN_FDNAMES']
    if (!Number.isInteger(count) || count <= 0 || forPid !== pid) return new InheritedSockets([])
    const sockets: InheritedSocket[] = []
    for (let fd = 3; fd < 3 + count; fd++) {
      const key = describeSocketFd(fd)
      if (key === null) {
        throw new Error(
          `LISTEN_FDS: descriptor ${fd} is not a listening TCP or unix socket this process can name`,
        )
      }
      sockets.push({ fd, key })
    }
    return new InheritedSockets(sockets)
  }
}

function parseOwn(text: string): InheritedSocket[] {
  const list: unknown = JSON.parse(text)
  if (!Array.isArray(list)) throw new Error(`${INHERITED_FDS_ENV} is not a JSON list`)
  return list.map((item: unknown) => {
    const { fd, key } = (item ?? {}) as { fd?: unknown; key?: unknown }
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || typeof key !== 'string') {
      throw new Error(`${INHERITED_FDS_ENV}: bad entry ${JSON.stringify(item)}`)
    }
    return { fd, key }
  })
}

/**
 * The address key of a listening socket descriptor, found through /proc (Linux: where systemd
 * runs): the socket's inode from /proc/self/fd, then its local address in /proc/net/tcp, tcp6
 * or unix. Null when the descriptor is not such a socket.
 */
export function describeSocketFd(fd: number): string | null {
  let link: string
  try {
    link = readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return null
  }
  const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1]
  if (inode === undefined) return null
  return tcpKey('/proc/net/tcp', inode) ?? tcpKey('/proc/net/tcp6', inode) ?? unixKey(inode)
}

// /proc/net/tcp{,6}: "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode";
// addresses are hex, in the kernel's byte order per 32-bit word. State 0A is LISTEN.
function tcpKey(file: string, inode: string): string | null {
  for (const line of readLines(file)) {
    const cols = line.trim().split(/\s+/)
    if (cols[9] !== inode || cols[3] !== '0A') continue
    const [hexHost = '', hexPort = ''] = (cols[1] ?? '').split(':')
    return `${decodeHost(hexHost)}:${parseInt(hexPort, 16)}`
  }
  return null
}

function decodeHost(hex: string): string {
  const words: Buffer[] = []
  for (let i = 0; i < hex.length; i += 8) {
    const word = Buffer.alloc(4)
    word.writeUInt32LE(parseInt(hex.slice(i, i + 8), 16))
    words.push(word)
  }
  const bytes = Buffer.concat(words)
  if (bytes.length === 4) return [...bytes].join('.')
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16))
  return canonicalHost(groups.join(':'))
}

// /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path".
function unixKey(inode: string): string | null {
  for (const line of readLines('/proc/net/unix')) {
    const cols = line.trim().split(/\s+/)
    if (cols[6] === inode && cols[7] !== undefined) return `unix:${cols[7]}`
  }
  return null
}

function readLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(1)
  } catch {
    return []
  }
}
