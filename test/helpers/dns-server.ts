/**
 * A real DNS server on 127.0.0.1 (UDP, ephemeral port) whose answers a test sets: A and AAAA
 * records per name, or a failure mode (`servfail` answers SERVFAIL to everything, `silent`
 * answers nothing). Messages are encoded and decoded by dns-packet; the queries it got are
 * counted, so a test can wait for the next resolution instead of sleeping.
 */
import dgram from 'node:dgram'
import { once } from 'node:events'
import * as packet from 'dns-packet'

export interface TestDnsServer {
  /** `127.0.0.1:PORT`, as `discovery.dns.servers` takes it. */
  readonly address: string
  /** Queries answered or ignored so far. */
  readonly queries: () => number
  /** Sets the records of `name` (IPv4 and IPv6 addresses; none → NXDOMAIN). */
  set(name: string, addresses: readonly string[]): void
  mode(mode: 'answer' | 'servfail' | 'silent'): void
  close(): Promise<void>
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const records = new Map<string, readonly string[]>()
  let mode: 'answer' | 'servfail' | 'silent' = 'answer'
  let queries = 0
  const socket = dgram.createSocket('udp4')
  socket.on('message', (msg, rinfo) => {
    queries++
    if (mode === 'silent') return
    let query: packet.Packet
    try {
      query = packet.decode(msg)
    } catch {
      return
    }
    const question = query.questions?.[0]
    if (question === undefined) return
    const addresses = records.get(question.name.toLowerCase())
    const wanted = question.type === 'AAAA' ? 6 : 4
    const answers: packet.Answer[] = (addresses ?? [])
      .filter((a) => (a.includes(':') ? 6 : 4) === wanted)
      .map((data) => ({
        type: wanted === 6 ? 'AAAA' : 'A',
        name: question.name,
        ttl: 1,
        data,
      }))
    const rcode =
      mode === 'servfail' ? 'SERVFAIL' : addresses === undefined ? 'NXDOMAIN' : 'NOERROR'
    const reply = packet.encode({
      id: query.id ?? 0,
      type: 'response',
      flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | rcodeFlag(rcode),
      questions: [question],
      answers: mode === 'servfail' ? [] : answers,
    })
    socket.send(reply, rinfo.port, rinfo.address)
  })
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  const { port } = socket.address()
  return {
    address: `127.0.0.1:${port}`,
    queries: () => queries,
    set: (name, addresses) => {
      if (addresses.length === 0) records.delete(name.toLowerCase())
      else records.set(name.toLowerCase(), [...addresses])
    },
    mode: (next) => (mode = next),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  }
}

/** The RCODE bits of the DNS header flags. */
function rcodeFlag(rcode: 'NOERROR' | 'SERVFAIL' | 'NXDOMAIN'): number {
  return rcode === 'NOERROR' ? 0 : rcode === 'SERVFAIL' ? 2 : 3
}
