/**
 * `hitless validate` (src/cli/validate.ts; kept beside the config tests it exercises): exit
 * codes, the one-line summary, one line per issue, never a stack trace.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { issueLine, validateCommand } from '../../../src/cli/validate.ts'

const dir = mkdtempSync(join(tmpdir(), 'hitless-validate-'))
after(() => rmSync(dir, { recursive: true, force: true }))

async function run(
  name: string,
  text: string | null,
  env: Record<string, string | undefined> = {},
) {
  const configPath = join(dir, name)
  if (text !== null) writeFileSync(configPath, text)
  const out: string[] = []
  const err: string[] = []
  const code = await validateCommand(
    { configPath, env },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  )
  return { code, out, err, configPath }
}

test('a valid file: exit 0 and one summary line with counts and version', async () => {
  const { code, out, err, configPath } = await run(
    'one.yaml',
    'listeners:\n  - address: 127.0.0.1:${P}\n',
    { P: '8080' },
  )
  assert.equal(code, 0)
  assert.deepStrictEqual(err, [])
  assert.equal(out.length, 1)
  assert.match(
    out[0] ?? '',
    new RegExp(
      `^ok: ${configPath} — 1 listener, 0 upstreams, 0 routes \\(version [0-9a-f]{12}\\)$`,
    ),
  )
})

test('counts are pluralised', async () => {
  const text = `listeners:
  - address: 127.0.0.1:1
  - address: 127.0.0.1:2
upstreams:
  a: { targets: [{ url: http://a }] }
routes:
  - { match: { path: / }, upstream: a }
`
  const { out } = await run('two.yaml', text)
  assert.match(out[0] ?? '', / — 2 listeners, 1 upstream, 1 route \(version /)
})

test('an invalid file: exit 1, one line per issue with FILE:LINE:COL, then a count', async () => {
  const text =
    'listeners:\n  - address: 127.0.0.1:1\n    nmae: x\nroutes:\n  - { match: { path: / }, upstream: nope }\n'
  const bad = await run('bad.yaml', text)
  assert.equal(bad.code, 1)
  assert.deepStrictEqual(bad.out, [])
  assert.deepStrictEqual(bad.err, [
    `${bad.configPath}:3:5: listeners[0].nmae: unknown key "nmae" (did you mean "name"?)`,
    `invalid: ${bad.configPath} — 1 error`,
  ])
  const semantic = await run(
    'semantic.yaml',
    'listeners:\n  - address: 127.0.0.1:1\nroutes:\n  - { match: { path: / }, upstream: nope }\n  - { match: {}, respond: {} }\n',
  )
  assert.deepStrictEqual(semantic.err, [
    `${semantic.configPath}:4:37: routes[0].upstream: unknown upstream "nope"`,
    `${semantic.configPath}:5:14: routes[1].match: a match kind is required: one of path, prefix or regex`,
    `invalid: ${semantic.configPath} — 2 errors`,
  ])
})

test('an unreadable file: exit 1 with the reason, no stack trace', async () => {
  const { code, out, err, configPath } = await run('missing.yaml', null)
  assert.equal(code, 1)
  assert.deepStrictEqual(out, [])
  assert.deepStrictEqual(err, [
    `${configPath}: (document): cannot read ${configPath}: no such file`,
    `invalid: ${configPath} — 1 error`,
  ])
})

test('output never contains a stack trace', async () => {
  const { err } = await run('syntax.yaml', 'listeners: [\n')
  assert.equal(err.length, 2)
  for (const line of err) assert.doesNotMatch(line, /^\s+at |Error:/)
})

test('issueLine: position first when known, hint last', () => {
  assert.equal(
    issueLine('f.yaml', { path: 'a.b', line: 3, column: 7, message: 'unknown key "b"', hint: 'c' }),
    'f.yaml:3:7: a.b: unknown key "b" (did you mean "c"?)',
  )
  assert.equal(
    issueLine('f.yaml', { path: '', line: null, column: null, message: 'm' }),
    'f.yaml: (document): m',
  )
})
