import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {
  describeSocketFd,
  fdOf,
  INHERITED_FDS_ENV,
  InheritedSockets,
  socketKey,
} from '../../../src/server/inherited.ts'

async function listening(address: string | { port: number; host: string }): Promise<net.Server> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    if (typeof address === 'string') server.listen(address, resolve)
    else server.listen(address.port, address.host, resolve)
  })
  return server
}

test('socket keys: host:port with canonical IPv6, unix:path', () => {
  assert.equal(socketKey({ kind: 'tcp', host: '127.0.0.1', port: 80 }), '127.0.0.1:80')
  assert.equal(socketKey({ kind: 'tcp', host: '0:0:0:0:0:0:0:1', port: 80 }), '::1:80')
  assert.equal(socketKey({ kind: 'unix', path: '/run/x.sock' }), 'unix:/run/x.sock')
})

test('a listening socket descriptor is named by its bound address (TCP v4, v6, unix)', async (t) => {
  const v4 = await listening({ port: 0, host: '127.0.0.1' })
  t.after(() => v4.close())
  const port4 = (v4.address() as net.AddressInfo).port
  assert.equal(describeSocketFd(fdOf(v4) ?? -1), `127.0.0.1:${port4}`)

  const v6 = await listening({ port: 0, host: '::1' }).catch(() => null)
  if (v6 !== null) {
    t.after(() => v6.close())
    const port6 = (v6.address() as net.AddressInfo).port
    assert.equal(describeSocketFd(fdOf(v6) ?? -1), `::1:${port6}`)
  }

  const dir = mkdtempSync(path.join(os.tmpdir(), 'hitless-fd-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const sock = path.join(dir, 'gw.sock')
  const unix = await listening(sock)
  t.after(() => unix.close())
  assert.equal(describeSocketFd(fdOf(unix) ?? -1), `unix:${sock}`)

  assert.equal(describeSocketFd(0x7fff), null, 'not an open descriptor')
  assert.equal(describeSocketFd(0), null, 'stdin is not a listening socket')
})

test('a hand-over list is taken by use, once; unclaimed ones are closed', () => {
  const env: NodeJS.ProcessEnv = {
    [INHERITED_FDS_ENV]: JSON.stringify([
      { fd: 900, key: 'listener@127.0.0.1:0' },
      { fd: 901, key: 'admin@127.0.0.1:0' },
    ]),
  }
  const sockets = InheritedSockets.fromEnv(env, process.pid)
  assert.equal(env[INHERITED_FDS_ENV], undefined, 'not passed on to a later upgrade')
  const addr = { kind: 'tcp', host: '127.0.0.1', port: 0 } as const
  assert.equal(sockets.take(addr, 'admin'), 901)
  assert.equal(sockets.take(addr, 'admin'), undefined, 'handed out once')
  assert.equal(sockets.size, 1)
  assert.deepEqual(sockets.closeUnclaimed(), ['listener@127.0.0.1:0'])
  assert.equal(sockets.size, 0)
})

test('systemd: LISTEN_FDS only for this pid; a bad hand-over list is an error', () => {
  const other = InheritedSockets.fromEnv({ LISTEN_FDS: '1', LISTEN_PID: '1' }, process.pid)
  assert.equal(other.size, 0, 'meant for another process')
  assert.throws(
    () =>
      InheritedSockets.fromEnv({ LISTEN_FDS: '1', LISTEN_PID: String(process.pid) }, process.pid),
    /descriptor 3 is not a listening/,
  )
  assert.throws(() => InheritedSockets.fromEnv({ [INHERITED_FDS_ENV]: '{}' }, 1), /not a JSON list/)
  assert.throws(
    () => InheritedSockets.fromEnv({ [INHERITED_FDS_ENV]: '[{"fd":"x"}]' }, 1),
    /bad entry/,
  )
})
