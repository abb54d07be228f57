/**
 * Golden files: every `test/fixtures/configs/valid/*` loads to `golden/<name>.json` (version and
 * normalised config), every `invalid/*` fails with exactly `expected-errors/<name>.json`.
 * Adding a case is adding two files. `.txt`-suffixed inputs (`x.yaml.txt`) hold text Prettier
 * cannot parse (syntax errors), so `prettier --check .` skips them.
 * Regenerate after an intended change: HITLESS_UPDATE_GOLDEN=1 node --test
 * build/test/unit/config/golden.test.js, then `npx prettier --write test/fixtures/configs`
 * and review the diff.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { loadConfig } from '../../../src/config/load.ts'
import { configErrorOf, plainIssues, repoRoot } from './helpers.ts'

/** The environment every fixture is interpolated with. */
export const FIXTURE_ENV: Readonly<Record<string, string>> = {
  HITLESS_PORT: '8181',
  HITLESS_ENV: 'staging',
  API_HOST: '10.0.0.5',
  API_PORT: '9000',
  API_WEIGHT: '4',
  RETRY_POST: 'false',
  EMPTY_VAR: '',
  HITLESS_ADMIN_TOKEN: 'not-a-real-token',
}

const ROOT = join(repoRoot(), 'test', 'fixtures', 'configs')
const UPDATE = process.env['HITLESS_UPDATE_GOLDEN'] === '1'
const INPUT = /^(.+)\.(ya?ml|json)(\.txt)?$/

function cases(folder: string): Array<{ file: string; name: string; text: string }> {
  return readdirSync(join(ROOT, folder))
    .sort()
    .flatMap((file) => {
      const name = INPUT.exec(file)?.[1]
      return name === undefined
        ? []
        : [{ file, name, text: readFileSync(join(ROOT, folder, file), 'utf8') }]
    })
}

function load(folder: string, file: string, text: string) {
  return loadConfig(text, { source: `${folder}/${file.replace(/\.txt$/, '')}`, env: FIXTURE_ENV })
}

function compareWithGolden(path: string, actual: unknown): void {
  if (UPDATE) writeFileSync(path, `${JSON.stringify(actual, null, 2)}\n`)
  assert.ok(existsSync(path), `missing ${path}; run with HITLESS_UPDATE_GOLDEN=1 to create it`)
  // Compared as data, not text: Prettier owns the files' layout.
  assert.deepStrictEqual(actual, JSON.parse(readFileSync(path, 'utf8')))
}

function assertNoOrphans(folder: string, names: readonly string[]): void {
  const orphans = readdirSync(join(ROOT, folder)).filter(
    (f) => !names.includes(f.replace(/\.json$/, '')),
  )
  assert.deepStrictEqual(orphans, [], `${folder}/ has files without an input fixture`)
}

describe('valid configs load to their golden normalised form', () => {
  const valid = cases('valid')
  test('there are enough cases, and no orphan golden files', () => {
    assert.ok(valid.length >= 8)
    assert.ok(valid.some((c) => c.file.endsWith('.json')))
    assertNoOrphans(
      'golden',
      valid.map((c) => c.name),
    )
  })
  for (const { file, name, text } of valid) {
    test(file, () => {
      const { config, version } = load('valid', file, text)
      compareWithGolden(join(ROOT, 'golden', `${name}.json`), { version, config })
    })
  }
})

describe('invalid configs fail with exactly their expected errors', () => {
  const invalid = cases('invalid')
  test('there are enough cases, and no orphan expected-error files', () => {
    assert.ok(invalid.length >= 15)
    assertNoOrphans(
      'expected-errors',
      invalid.map((c) => c.name),
    )
  })
  for (const { file, name, text } of invalid) {
    test(file, () => {
      const error = configErrorOf(() => load('invalid', file, text))
      assert.ok(error.issues.length > 0)
      compareWithGolden(join(ROOT, 'expected-errors', `${name}.json`), plainIssues(error.issues))
    })
  }
})
