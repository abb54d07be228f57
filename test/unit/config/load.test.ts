/**
 * The public entry: text or file → frozen config, version and document; every failure is a
 * ConfigError carrying all issues, and nothing else ever escapes.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { ConfigError, ErrorCode, GatewayError } from '../../../src/errors.ts'
import {
  ConfigReadError,
  isConfigError,
  loadConfig,
  loadConfigFile,
} from '../../../src/config/load.ts'
import { configErrorOf, plainIssues } from './helpers.ts'

const TEXT = `
listeners:
  - address: 127.0.0.1:\${PORT:-8080}
upstreams:
  api: { targets: [{ url: "http://\${API_HOST}:9000" }] }
routes:
  - { match: { prefix: /api }, upstream: api }
`

describe('loadConfig', () => {
  test('returns the normalised config, its version and the interpolated document', () => {
    const loaded = loadConfig(TEXT, { source: 'inline.yaml', env: { API_HOST: '10.0.0.5' } })
    assert.equal(loaded.config.listeners[0]?.address.kind, 'tcp')
    assert.deepStrictEqual(loaded.config.upstreams[0]?.targets[0]?.origin, 'http://10.0.0.5:9000')
    assert.match(loaded.version, /^[0-9a-f]{12}$/)
    assert.deepStrictEqual(loaded.document, {
      listeners: [{ address: '127.0.0.1:8080' }],
      upstreams: { api: { targets: [{ url: 'http://10.0.0.5:9000' }] } },
      routes: [{ match: { prefix: '/api' }, upstream: 'api' }],
    })
  })
  test('the config (what the data plane reads) is deeply frozen', () => {
    const { config } = loadConfig(TEXT, { source: 'inline.yaml', env: { API_HOST: 'h' } })
    assert.ok(Object.isFrozen(config))
    assert.ok(Object.isFrozen(config.upstreams[0]?.targets[0]))
    assert.ok(Object.isFrozen(config.routes[0]?.match))
  })
  test('reports interpolation and validation issues together, in document order', () => {
    const text = 'listeners:\n  - address: ${ADDR}\n    nam: x\nrouts: []\n'
    const error = configErrorOf(() => loadConfig(text, { source: 'a.yaml', env: {} }))
    assert.equal(error.code, ErrorCode.CONFIG_INVALID)
    assert.equal(error.source, 'a.yaml')
    assert.deepStrictEqual(plainIssues(error.issues), [
      {
        path: 'listeners[0].address',
        line: 2,
        column: 14,
        message: 'environment variable ADDR is not set',
      },
      { path: 'listeners[0].nam', line: 3, column: 5, message: 'unknown key "nam"', hint: 'name' },
      { path: 'routs', line: 4, column: 1, message: 'unknown key "routs"', hint: 'routes' },
    ])
  })
  test('hides only the follow-on errors of a value left un-interpolated', () => {
    const text = 'listeners:\n  - address: "${ADDR}"\n    name: ${NAME}\n  - address: 8080\n'
    const error = configErrorOf(() => loadConfig(text, { source: 'a.yaml', env: { NAME: 'x' } }))
    assert.deepStrictEqual(
      error.issues.map((i) => `${i.path}: ${i.message}`),
      [
        'listeners[0].address: environment variable ADDR is not set',
        'listeners[1].address: expected a string (address), got 8080',
      ],
    )
  })
  test('a syntax error stops before interpolation and validation', () => {
    const error = configErrorOf(() =>
      loadConfig('listeners: [\n  ${NOPE}\nx: 1', { source: 'a.yaml', env: {} }),
    )
    assert.ok(error.issues.length > 0)
    for (const issue of error.issues) assert.match(issue.message, /^YAML syntax error/)
  })
  test('the format comes from the source name unless given', () => {
    const yaml = 'listeners:\n  - address: 127.0.0.1:1\n'
    assert.match(
      configErrorOf(() => loadConfig(yaml, { source: 'x.json', env: {} })).issues[0]?.message ?? '',
      /^JSON syntax error/,
    )
    assert.ok(loadConfig(yaml, { source: 'x.json', format: 'yaml', env: {} }).config)
    assert.ok(
      loadConfig('{"listeners": [{"address": "127.0.0.1:1"}]}', { source: 'etcd key', env: {} })
        .config,
    )
  })
  test('a byte-order mark is ignored', () => {
    assert.ok(
      loadConfig('\uFEFF{"listeners": [{"address": "127.0.0.1:1"}]}', { source: 'x.json', env: {} })
        .config,
    )
  })
  test('an unexpected failure is wrapped in a ConfigError with the cause kept', () => {
    const boom = new Error('env exploded')
    const env = new Proxy(
      {},
      {
        get: () => {
          throw boom
        },
      },
    )
    const error = configErrorOf(() =>
      loadConfig('listeners: [{ address: "${X}" }]', { source: 's', env }),
    )
    assert.equal(error.code, ErrorCode.CONFIG_INVALID)
    assert.equal(error.cause, boom)
    assert.deepStrictEqual(plainIssues(error.issues), [
      {
        path: '',
        line: null,
        column: null,
        message: 'internal error while loading the config: env exploded',
      },
    ])
  })
})

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hitless-config-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('reads YAML, and JSON by its extension', async () => {
    const yaml = join(dir, 'a.yaml')
    writeFileSync(yaml, 'listeners:\n  - address: 127.0.0.1:${P}\n')
    assert.equal((await loadConfigFile(yaml, { P: '7' })).config.listeners[0]?.address.kind, 'tcp')
    const json = join(dir, 'b.json')
    writeFileSync(json, '{"listeners": [{"address": "127.0.0.1:1"}],}')
    const error = await loadConfigFile(json, {}).then(
      () => assert.fail('expected a rejection'),
      (err: unknown) => err,
    )
    assert.ok(isConfigError(error))
    assert.equal(error.source, json)
    assert.match(error.issues[0]?.message ?? '', /JSON syntax error: trailing comma/)
  })
  test('a missing file is a ConfigError with code CONFIG_READ_FAILED naming the file', async () => {
    const missing = join(dir, 'missing.yaml')
    const error = await loadConfigFile(missing, {}).catch((err: unknown) => err)
    assert.ok(error instanceof ConfigReadError)
    assert.ok(error instanceof ConfigError)
    assert.ok(isConfigError(error))
    assert.equal(error.code, ErrorCode.CONFIG_READ_FAILED)
    assert.equal(error.status, 500)
    assert.equal(error.source, missing)
    assert.equal((error.cause as { code?: string }).code, 'ENOENT')
    assert.deepStrictEqual(plainIssues(error.issues), [
      { path: '', line: null, column: null, message: `cannot read ${missing}: no such file` },
    ])
  })
  test('a directory is reported as such', async () => {
    const error = await loadConfigFile(dir, {}).catch((err: unknown) => err)
    assert.ok(isConfigError(error))
    assert.equal(error.issues[0]?.message, `cannot read ${dir}: it is a directory`)
  })
})

test('isConfigError matches by code and shape, not by class', () => {
  assert.equal(isConfigError(new ConfigError('s', [])), true)
  assert.equal(isConfigError({ code: ErrorCode.CONFIG_INVALID, issues: [] }), true)
  assert.equal(isConfigError({ code: ErrorCode.CONFIG_INVALID }), false)
  assert.equal(isConfigError(new GatewayError(ErrorCode.INTERNAL, 'x')), false)
  assert.equal(isConfigError(new Error('x')), false)
  assert.equal(isConfigError(null), false)
  assert.equal(isConfigError('HITLESS_ERR_CONFIG_INVALID'), false)
})
