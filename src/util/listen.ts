/**
 * Binds a node:net server (HTTP or not) to a config address: host:port, [v6]:port or a unix
 * socket path. Shared by the public listeners and the admin API.
 */
import { unlink } from 'node:fs/promises'
import type { Server } from 'node:net'

/** The address shapes of `config/types.ts` (repeated structurally: util imports nothing of ours). */
export type BindAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string }

/**
 * Starts `server` listening on `address`; rejects with the bind error (EADDRINUSE, EACCES…).
 * With `fd`, an inherited socket already bound to that address is taken over instead.
 */
export async function listenOn(server: Server, address: BindAddress, fd?: number): Promise<void> {
  if (address.kind === 'unix' && fd === undefined) {
    // A stale socket file from a previous run would make listen() fail with EADDRINUSE.
    await unlink(address.path).catch(() => undefined)
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err)
    server.once('error', onError)
    const done = (): void => {
      server.removeListener('error', onError)
      resolve()
    }
    if (fd !== undefined) server.listen({ fd }, done)
    else if (address.kind === 'unix') server.listen(address.path, done)
    else server.listen(address.port, address.host, done)
  })
}
