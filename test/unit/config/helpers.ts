/**
 * Shared helpers of the config tests: the repository root (tests run from build/, fixtures live
 * in the source tree) and a throw-capturing assertion for `ConfigError`.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { ConfigError, ConfigIssue } from '../../../src/errors.ts'
import { isConfigError } from '../../../src/config/load.ts'

/** The directory holding package.json, found by walking up from this file. */
export function repoRoot(): string {
  let dir = import.meta.dirname
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    assert.notEqual(parent, dir, 'package.json not found above the test file')
    dir = parent
  }
  return dir
}

/** Runs `fn`, asserts it throws a ConfigError, and returns the error. */
export function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    assert.ok(isConfigError(err), `expected a ConfigError, got ${String(err)}`)
    return err
  }
  assert.fail('expected a ConfigError, nothing was thrown')
}

/** The issues as plain `{ path, line, column, message, hint? }` records. */
export function plainIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return issues.map((i) => ({
    path: i.path,
    line: i.line,
    column: i.column,
    message: i.message,
    ...(i.hint === undefined ? {} : { hint: i.hint }),
  }))
}
