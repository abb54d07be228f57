/**
 * The config subsystem's public entry: text (or a file) → parsed → interpolated → validated →
 * normalised, frozen config plus its version. Throws only `ConfigError`, carrying every issue.
 */
import { readFile } from 'node:fs/promises'
import type { ConfigIssue } from '../errors.ts'
import { ConfigError, ErrorCode } from '../errors.ts'
import { versionOf } from './canonical.ts'
import { formatConfigPath } from './config-path.ts'
import type { Env } from './interpolate.ts'
import { interpolate } from './interpolate.ts'
import { normalizeConfig } from './normalize.ts'
import { documentSchema } from './schema.ts'
import { expectsString } from './schema-walk.ts'
import type { ConfigFormat } from './parse.ts'
import { detectFormat, parseConfigText } from './parse.ts'
import type { GatewayConfig } from './types.ts'
import { compareIssues, validateDocument } from './validate.ts'

/** A loaded config: the normalised config, its version id and the interpolated raw document. */
export interface LoadedConfig {
  readonly config: GatewayConfig
  /** 12 hex digits of the sha256 of the canonical normalised config. */
  readonly version: string
  /** The document after interpolation, as plain data (for `GET /config`; redact before showing). */
  readonly document: unknown
  /** The etcd revision the document was written at (fleet mode), else absent. */
  readonly revision?: string
}

/** Where the text came from, how to read it and the environment for `${VAR}`. */
export interface LoadConfigOptions {
  /** A file path or other name used in messages (and to pick the format from `.json`). */
  readonly source: string
  readonly format?: ConfigFormat
  readonly env: Env
  /** An etcd cluster is given outside the document (fleet mode), for etcd discovery. */
  readonly etcdCluster?: boolean
}

/**
 * A config file that could not be read. It is a `ConfigError` (one issue naming the file) so
 * that callers handle one type, with its own code, `HITLESS_ERR_CONFIG_READ_FAILED`.
 */
export class ConfigReadError extends ConfigError {
  override readonly code: ErrorCode = ErrorCode.CONFIG_READ_FAILED

  constructor(path: string, cause: unknown) {
    const issue = {
      path: '',
      line: null,
      column: null,
      message: `cannot read ${path}: ${readFailure(cause)}`,
    }
    super(path, [issue], { cause })
    this.message = `${path}: cannot read the config file`
  }
}

function readFailure(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EISDIR') return 'it is a directory'
  return err instanceof Error ? err.message : String(err)
}

/** True for any error this module throws (matched by code, per the error model). */
export function isConfigError(err: unknown): err is ConfigError {
  const code = (err as { code?: unknown } | null)?.code
  return (
    (code === ErrorCode.CONFIG_INVALID || code === ErrorCode.CONFIG_READ_FAILED) &&
    Array.isArray((err as { issues?: unknown }).issues)
  )
}

/**
 * Loads a config from text. Throws a `ConfigError` listing every issue (syntax, interpolation,
 * structure, semantics), and only that: an unexpected failure is wrapped, with it as `cause`.
 */
export function loadConfig(text: string, opts: LoadConfigOptions): LoadedConfig {
  try {
    return load(text.replace(/^\uFEFF/, ''), opts)
  } catch (err) {
    if (isConfigError(err)) throw err
    const message = `internal error while loading the config: ${err instanceof Error ? err.message : String(err)}`
    throw new ConfigError(opts.source, [{ path: '', line: null, column: null, message }], {
      cause: err,
    })
  }
}

/** Reads `path` (YAML, or JSON by its `.json` extension) and loads it like `loadConfig`. */
export async function loadConfigFile(
  path: string,
  env: Env,
  etcdCluster = false,
): Promise<LoadedConfig> {
  return loadConfig(await readConfigFile(path), { source: path, env, etcdCluster })
}

/** The text of a config file (UTF-8); a read failure is a `ConfigReadError`. */
export async function readConfigFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigReadError(path, err)
  }
}

function load(text: string, opts: LoadConfigOptions): LoadedConfig {
  const format = opts.format ?? detectFormat(opts.source, text)
  const parsed = parseConfigText(text, format)
  if (!parsed.ok) throw new ConfigError(opts.source, parsed.issues)
  const interpolated = interpolate(parsed.document, opts.env, {
    expectsString: (path) => expectsString(documentSchema, path),
  })
  const validated = validateDocument(interpolated.value, parsed.document, {
    etcdCluster: opts.etcdCluster === true,
  })
  const failed = interpolated.failedPaths.map(formatConfigPath)
  const issues = [
    ...interpolated.issues,
    // A value left as `${VAR}` would also fail its type or format: report the cause only.
    ...(validated.ok
      ? []
      : validated.issues.filter((i) => !failed.some((f) => isUnder(i.path, f)))),
  ]
  if (issues.length > 0 || !validated.ok) throw new ConfigError(opts.source, sortIssues(issues))
  const config = deepFreeze(normalizeConfig(validated.value))
  // The document is only read (GET /config), and freezing a 10,000-route copy cost ~5 % of a
  // load: it is left as is. The config, which the data plane reads, is frozen.
  return { config, version: versionOf(config), document: interpolated.value }
}

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`)
}

function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort(compareIssues)
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
