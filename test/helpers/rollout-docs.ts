/**
 * Fixtures of the roll-out tests: an origin answering one status and body to everything, and the
 * YAML document of a gateway (listener and admin on port 0) sending every path to it, with an
 * optional `rollout:` line.
 */
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.ts'

export function statusOrigin(status: number, body: string): Promise<FakeUpstream> {
  return startFakeUpstream({
    handler: (_req, res) => {
      res.writeHead(status, { 'content-type': 'text/plain' })
      res.end(body)
    },
  })
}

export function appConfig(target: FakeUpstream, rollout = ''): string {
  return [
    'listeners:',
    "  - { name: public, address: '127.0.0.1:0' }",
    "admin: { address: '127.0.0.1:0' }",
    'upstreams:',
    `  app: { targets: [{ url: '${target.url}' }] }`,
    'routes:',
    '  - { name: app, match: { prefix: / }, upstream: app }',
    rollout,
    '',
  ].join('\n')
}
