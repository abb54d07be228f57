/**
 * The config file as a source of documents: watches the file's directory and hands over the new
 * text whenever the content really changed. It never parses; the reload pipeline does, and may
 * ask for one recheck when the text looks half-written. No logging here: everything is reported
 * through the callbacks.
 */
import assert from 'node:assert/strict'
import { watch, type FSWatcher } from 'node:fs'
import { readFile as fsReadFile, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { ErrorCode, GatewayError } from '../../errors.ts'
import { ConfigReadError } from '../load.ts'
import { Debouncer } from './debounce.ts'

/** Default quiet time after the last directory event before the file is read, in ms. */
export const DEFAULT_DEBOUNCE_MS = 100

/**
 * A directory that never goes quiet (log files or sockets beside the config) would postpone the
 * read forever; after this many debounce periods since the first event of a burst it happens
 * anyway.
 */
const MAX_WAIT_DEBOUNCES = 10

/** What `onChange` may answer: `'retry'` asks to read the file once more after the debounce. */
export type ConfigFileAnswer = 'retry' | undefined

/** Details of one delivery of the file's text. */
export interface ConfigFileChange {
  /**
   * True when this delivery is the recheck an earlier `'retry'` asked for and the file still
   * holds exactly that text: a failure now is persistent and should be reported. A `'retry'`
   * answered to a recheck is ignored.
   */
  readonly recheck: boolean
}

/** Options of {@link ConfigFileWatcher} and {@link watchConfigFile}. */
export interface ConfigFileWatcherOptions {
  /** Quiet time after the last event in the directory before the file is read, in ms (100). */
  readonly debounceMs?: number
  /**
   * The text the consumer already applied, taken as the starting content: the first read (at
   * start) delivers the file only if it differs. Without it, whatever the file holds at start is
   * the starting content and is not delivered, so a change made between the consumer's own read
   * and the watcher's start is missed until the next change.
   */
  readonly initialText?: string
  /**
   * Called with the full text (UTF-8, symlinks followed) when the content differs from the last
   * text delivered. Never called while a previous call's promise is pending, nor after
   * `close()`. May return (or resolve to) `'retry'`: see {@link ConfigFileWatcher}. A throw or
   * rejection is reported to `onError` and counts as no answer.
   */
  readonly onChange: (
    text: string,
    change: ConfigFileChange,
  ) => ConfigFileAnswer | void | Promise<ConfigFileAnswer | void>
  /**
   * Problems, never a missing file: a read failure (`ConfigReadError`, code
   * `HITLESS_ERR_CONFIG_READ_FAILED`, reported once until the file reads again), a failed watch
   * (`ConfigWatchError`, same code; the watcher has stopped), or an `onChange` that threw
   * (`GatewayError`, `HITLESS_ERR_INTERNAL`). Must not throw.
   */
  readonly onError?: (err: GatewayError) => void
  /** Reads the file (tests count reads through it); defaults to `fs.promises.readFile` UTF-8. */
  readonly readFile?: (path: string) => Promise<string>
}

/**
 * The directory can no longer be watched (removed, or the OS watch failed or could not be set
 * up, e.g. inotify's `max_user_watches` reached). After it is reported the watcher has stopped;
 * the file's content was not involved, so unlike a `ConfigReadError` it carries no issues.
 */
export class ConfigWatchError extends GatewayError {
  /** The config file whose directory was being watched. */
  readonly path: string

  constructor(path: string, reason: string, cause?: unknown) {
    super(
      ErrorCode.CONFIG_READ_FAILED,
      `${path}: stopped watching for changes: ${reason}`,
      cause === undefined ? {} : { cause },
    )
    this.path = path
  }
}

type ReadResult =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'missing' }
  | { readonly kind: 'failed'; readonly error: unknown }

/**
 * Watches one config file through its directory and delivers its text when the content changes.
 *
 * Triggers: every event in the directory schedules a debounced read (the timer restarts with
 * each event, capped at ten debounce periods per burst). Watching the directory rather than the
 * file is what makes save-by-rename (vim, VS Code), delete-then-create and the Kubernetes
 * ConfigMap `..data` symlink swap visible: a watch on the file follows the old inode, and a
 * ConfigMap update names only `..data_tmp` and `..data`, never the file. Reading the file and
 * comparing it with the last text delivered makes the filename irrelevant and turns touches and
 * identical rewrites into nothing.
 *
 * A missing file is not an error: nothing is delivered or reported while it is absent, and the
 * new content is delivered when it reappears (if it differs). If the directory itself is gone, a
 * `ConfigWatchError` is reported and the watcher stops.
 *
 * The retry contract, for half-written files: when `onChange(text)` answers `'retry'`, the file
 * is read again one debounce period later (or later, if events keep coming). If it changed, the
 * new text is delivered as usual with `recheck: false`; if it still holds the same text, that
 * text is delivered once more with `recheck: true`, and then not again until the content
 * changes. A consumer thus retries silently on `recheck: false` and reports on `recheck: true`.
 */
export class ConfigFileWatcher {
  /** The watched file, as given (absolute or relative to the working directory at creation). */
  readonly path: string
  readonly #dir: string
  readonly #onChange: ConfigFileWatcherOptions['onChange']
  readonly #onError: (err: GatewayError) => void
  readonly #readFile: (path: string) => Promise<string>
  readonly #debouncer: Debouncer
  #state: 'new' | 'running' | 'closed' = 'new'
  #watcher: FSWatcher | undefined
  #checking = false
  #checkAgain = false
  /** The text last delivered (or the starting content); undefined while there is none. */
  #delivered: string | undefined
  /** True until the first read, when no `initialText` was given: that read is the baseline. */
  #takeBaseline: boolean
  /** The text whose delivery answered `'retry'`, waiting for its recheck. */
  #retryText: string | undefined
  /** Code (or message) of the read failure last reported, so one failure is reported once. */
  #reportedReadError: string | undefined

  constructor(path: string, opts: ConfigFileWatcherOptions) {
    const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS
    assert.ok(Number.isFinite(debounceMs) && debounceMs >= 0, 'debounceMs must be a number ≥ 0')
    this.path = path
    this.#dir = dirname(resolve(path))
    this.#debouncer = new Debouncer(
      () => void this.#check(),
      debounceMs,
      MAX_WAIT_DEBOUNCES * debounceMs,
    )
    this.#onChange = opts.onChange
    this.#onError = opts.onError ?? (() => {})
    this.#readFile = opts.readFile ?? ((p) => fsReadFile(p, 'utf8'))
    this.#delivered = opts.initialText
    this.#takeBaseline = opts.initialText === undefined
  }

  /**
   * Starts watching, then reads the file once (the baseline, or a first comparison with
   * `initialText`). Throws `ConfigWatchError` synchronously when the directory cannot be
   * watched. The promise resolves after that first read and its delivery, if any; it never
   * rejects. Call once.
   */
  start(): Promise<void> {
    assert.equal(this.#state, 'new', 'ConfigFileWatcher.start() may be called once')
    try {
      // persistent: false, so that a watcher left open never keeps the process alive by itself.
      this.#watcher = watch(this.#dir, { persistent: false }, () => this.#schedule())
    } catch (err) {
      this.#state = 'closed'
      throw new ConfigWatchError(this.path, `cannot watch ${this.#dir}: ${messageOf(err)}`, err)
    }
    // Windows reports a removed directory as an 'error' (EPERM); Linux sends a last event only.
    this.#watcher.on('error', (err) => this.#fail(`watch failed: ${err.message}`, err))
    this.#state = 'running'
    return this.#check()
  }

  /** Stops the watch and every timer; no callback runs after this returns. Idempotent. */
  close(): void {
    this.#state = 'closed'
    this.#debouncer.cancel()
    this.#watcher?.close()
    this.#watcher = undefined
  }

  /** Arms (or re-arms) the debounce timer; a burst of events yields one read. */
  #schedule(): void {
    if (this.#state === 'running') this.#debouncer.trigger()
  }

  /** One read and delivery at a time: a check asked for meanwhile runs after a fresh debounce. */
  async #check(): Promise<void> {
    if (this.#checking) {
      this.#checkAgain = true
      return
    }
    this.#checking = true
    try {
      await this.#readAndDeliver()
    } finally {
      this.#checking = false
    }
    if (this.#checkAgain) {
      this.#checkAgain = false
      this.#schedule()
    }
  }

  async #readAndDeliver(): Promise<void> {
    const result = await this.#read()
    if (this.#state !== 'running') return
    if (result.kind === 'missing') {
      this.#takeBaseline = false
      return this.#checkDirectory()
    }
    if (result.kind === 'failed') return this.#reportReadError(result.error)
    this.#reportedReadError = undefined
    const { text } = result
    if (this.#takeBaseline) {
      this.#takeBaseline = false
      this.#delivered = text
      return
    }
    const recheck = text === this.#delivered && text === this.#retryText
    if (text === this.#delivered && !recheck) return
    this.#retryText = undefined
    this.#delivered = text
    const answer = await this.#deliver(text, recheck)
    if (answer === 'retry' && !recheck) {
      this.#retryText = text
      this.#schedule() // a no-op once closed
    }
  }

  async #read(): Promise<ReadResult> {
    try {
      return { kind: 'text', text: await this.#readFile(this.path) }
    } catch (err) {
      // ENOTDIR: a path component was swapped for a file mid-update; as good as missing.
      const code = codeOf(err)
      if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' }
      return { kind: 'failed', error: err }
    }
  }

  async #deliver(text: string, recheck: boolean): Promise<ConfigFileAnswer | void> {
    try {
      return await this.#onChange(text, { recheck })
    } catch (err) {
      if (this.#state === 'running') {
        this.#onError(
          new GatewayError(ErrorCode.INTERNAL, `${this.path}: onChange failed: ${messageOf(err)}`, {
            cause: err,
          }),
        )
      }
      return undefined
    }
  }

  /**
   * The file is missing: normal between a delete and a create, but if the directory is gone too
   * the watch is dead (inotify drops it without an error) and the operator must know.
   */
  async #checkDirectory(): Promise<void> {
    try {
      await stat(this.#dir)
    } catch (err) {
      const code = codeOf(err)
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        this.#fail(`the directory ${this.#dir} was removed`, err)
      }
    }
  }

  #reportReadError(err: unknown): void {
    const key = codeOf(err) ?? messageOf(err)
    if (key === this.#reportedReadError) return
    this.#reportedReadError = key
    this.#onError(new ConfigReadError(this.path, err))
  }

  #fail(reason: string, cause: unknown): void {
    if (this.#state !== 'running') return
    this.close()
    this.#onError(new ConfigWatchError(this.path, reason, cause))
  }
}

/**
 * Creates a {@link ConfigFileWatcher} and starts it (the first read runs in the background).
 * Throws `ConfigWatchError` when the file's directory cannot be watched.
 */
export function watchConfigFile(path: string, opts: ConfigFileWatcherOptions): ConfigFileWatcher {
  const watcher = new ConfigFileWatcher(path, opts)
  void watcher.start()
  return watcher
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
