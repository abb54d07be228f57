/**
 * The config file watcher against real files in a temporary directory: every way a file gets
 * replaced, debouncing, identical rewrites, the half-written-file retry contract and close().
 * Writes are synchronous on purpose: the watcher starts its reads from timers on this thread, so
 * it can never read between the truncate and the write of one writeFileSync.
 */
import assert from 'node:assert/strict'
import {
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { setImmediate as tick } from 'node:timers/promises'
import { ErrorCode, type GatewayError } from '../../../../src/errors.ts'
import {
  ConfigFileWatcher,
  ConfigWatchError,
  watchConfigFile,
  type ConfigFileAnswer,
  type ConfigFileChange,
} from '../../../../src/config/sources/file.ts'
import { isConfigError } from '../../../../src/config/load.ts'
import { waitFor } from '../../../helpers/wait-for.ts'

const DEBOUNCE_MS = 40
const A = 'routes: []\n# a\n'
const B = 'routes: []\n# b\n'
const C = 'routes: []\n# c\n'

interface Delivery {
  readonly text: string
  readonly recheck: boolean
}

interface Harness {
  readonly dir: string
  readonly file: string
  readonly watcher: ConfigFileWatcher
  readonly deliveries: Delivery[]
  readonly errors: GatewayError[]
  /** Reads the watcher has finished (successful or not). */
  readonly reads: () => number
  /** Waits until the watcher finished one more read than when called. */
  readonly nextRead: () => () => Promise<void>
  readonly waitDeliveries: (count: number) => Promise<void>
}

interface SetupOptions {
  readonly debounceMs?: number
  /** Lays out the directory; returns the watched path (default: writes A to config.yaml). */
  readonly layout?: (dir: string) => string
  readonly initialText?: string | null
  readonly answer?: (
    text: string,
    change: ConfigFileChange,
    h: Harness,
  ) => ConfigFileAnswer | Promise<ConfigFileAnswer>
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'hitless-watch-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function setup(t: TestContext, opts: SetupOptions = {}): Promise<Harness> {
  const dir = tempDir(t)
  const file =
    opts.layout?.(dir) ??
    (() => {
      writeFileSync(join(dir, 'config.yaml'), A)
      return join(dir, 'config.yaml')
    })()
  const deliveries: Delivery[] = []
  const errors: GatewayError[] = []
  let reads = 0
  const initialText = opts.initialText === undefined ? A : opts.initialText
  const h: Harness = {
    dir,
    file,
    deliveries,
    errors,
    watcher: new ConfigFileWatcher(file, {
      debounceMs: opts.debounceMs ?? DEBOUNCE_MS,
      ...(initialText === null ? {} : { initialText }),
      onChange: (text, change) => {
        deliveries.push({ text, recheck: change.recheck })
        return opts.answer?.(text, change, h)
      },
      onError: (err) => errors.push(err),
      readFile: async (path) => {
        try {
          return await readFile(path, 'utf8')
        } finally {
          reads++
        }
      },
    }),
    reads: () => reads,
    nextRead: () => {
      const before = reads
      return () => waitFor(() => reads > before, { message: 'a read by the watcher' })
    },
    waitDeliveries: (count) =>
      waitFor(() => deliveries.length >= count, { message: `${count} deliveries` }),
  }
  t.after(() => h.watcher.close())
  await h.watcher.start()
  return h
}

const plain = (...texts: string[]): Delivery[] => texts.map((text) => ({ text, recheck: false }))

describe('ConfigFileWatcher: what it sees', () => {
  test('an in-place write delivers the new text', async (t) => {
    const h = await setup(t)
    writeFileSync(h.file, B)
    await h.waitDeliveries(1)
    assert.deepStrictEqual(h.deliveries, plain(B))
    assert.deepStrictEqual(h.errors, [])
  })

  test('a save-by-rename (vim, VS Code) delivers the new text, and the next one too', async (t) => {
    const h = await setup(t)
    // A watch on the file's inode would stay on the replaced file and miss the second save.
    writeFileSync(join(h.dir, '.config.yaml.swp'), B)
    renameSync(join(h.dir, '.config.yaml.swp'), h.file)
    await h.waitDeliveries(1)
    writeFileSync(join(h.dir, 'config.yaml.tmp.1234'), C)
    renameSync(join(h.dir, 'config.yaml.tmp.1234'), h.file)
    await h.waitDeliveries(2)
    assert.deepStrictEqual(h.deliveries, plain(B, C))
  })

  test('delete-then-create: silent while missing, delivers the new text when it returns', async (t) => {
    const h = await setup(t)
    const read = h.nextRead()
    unlinkSync(h.file)
    await read()
    assert.deepStrictEqual(h.deliveries, [])
    assert.deepStrictEqual(h.errors, [], 'a missing file is not reported')
    writeFileSync(h.file, B)
    await h.waitDeliveries(1)
    assert.deepStrictEqual(h.deliveries, plain(B))
    assert.deepStrictEqual(h.errors, [])
  })

  test('a file deleted and recreated with the same content delivers nothing', async (t) => {
    const h = await setup(t)
    let read = h.nextRead()
    unlinkSync(h.file)
    await read()
    read = h.nextRead()
    writeFileSync(h.file, A)
    await read()
    // Negative check closed by a later change: had A been delivered, it would come first.
    writeFileSync(h.file, B)
    await h.waitDeliveries(1)
    assert.deepStrictEqual(h.deliveries, plain(B))
  })

  test('a Kubernetes ConfigMap update (atomic ..data symlink swap) delivers the new text', async (t) => {
    // The kubelet's AtomicWriter layout: config.yaml -> ..data/config.yaml, ..data -> ..<ts>/;
    // an update writes a new ..<ts>/, renames a fresh ..data_tmp link over ..data, removes the
    // old one. No event ever names config.yaml.
    const version = (dir: string, name: string, text: string): void => {
      mkdirSync(join(dir, name))
      writeFileSync(join(dir, name, 'config.yaml'), text)
    }
    const swap = (dir: string, from: string, to: string, text: string): void => {
      version(dir, to, text)
      symlinkSync(to, join(dir, '..data_tmp'))
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
      rmSync(join(dir, from), { recursive: true })
    }
    const h = await setup(t, {
      layout: (dir) => {
        version(dir, '..2024_01_01_00_00_00.1', A)
        symlinkSync('..2024_01_01_00_00_00.1', join(dir, '..data'))
        symlinkSync(join('..data', 'config.yaml'), join(dir, 'config.yaml'))
        return join(dir, 'config.yaml')
      },
    })
    swap(h.dir, '..2024_01_01_00_00_00.1', '..2024_01_01_00_01_00.2', B)
    await h.waitDeliveries(1)
    swap(h.dir, '..2024_01_01_00_01_00.2', '..2024_01_01_00_02_00.3', C)
    await h.waitDeliveries(2)
    assert.deepStrictEqual(h.deliveries, plain(B, C))
    assert.deepStrictEqual(h.errors, [])
  })

  test('an identical rewrite or a touch delivers nothing', async (t) => {
    const h = await setup(t)
    let read = h.nextRead()
    writeFileSync(h.file, A)
    await read()
    read = h.nextRead()
    const now = new Date()
    utimesSync(h.file, now, now)
    await read()
    writeFileSync(h.file, B)
    await h.waitDeliveries(1)
    assert.deepStrictEqual(h.deliveries, plain(B))
  })
})

describe('ConfigFileWatcher: debouncing', () => {
  test('a burst of 20 writes gives one read and one delivery of the final text', async (t) => {
    // A longer debounce than elsewhere: the burst, yielding between writes so that the watcher
    // sees its events one by one, must fit in it even on a loaded machine.
    const h = await setup(t, { debounceMs: 150 })
    const before = h.reads()
    for (let i = 1; i <= 20; i++) {
      writeFileSync(h.file, `routes: []\n# write ${i}\n`)
      await tick()
    }
    await h.waitDeliveries(1)
    assert.deepStrictEqual(h.deliveries, plain('routes: []\n# write 20\n'))
    assert.equal(h.reads() - before, 1)
  })
  // The cap on a burst that never goes quiet is timing alone: debounce.test.ts, on mock timers.
})

describe('ConfigFileWatcher: the retry contract for half-written files', () => {
  const HALF = 'routes: [\n'

  test('a retry followed by the completed file delivers the completed text', async (t) => {
    const h = await setup(t, {
      answer: (text, change, h) => {
        if (text !== HALF) return undefined
        assert.equal(change.recheck, false)
        // The writer finishes before the recheck is due.
        writeFileSync(h.file, B)
        return 'retry'
      },
    })
    writeFileSync(h.file, HALF)
    await h.waitDeliveries(2)
    assert.deepStrictEqual(h.deliveries, plain(HALF, B))
    assert.deepStrictEqual(h.errors, [])
  })

  test('a persistent failure is delivered once more as a recheck, then not again', async (t) => {
    const h = await setup(t, {
      // Async, as the reload pipeline is; it also asks for a retry on the recheck, which the
      // watcher must ignore.
      answer: async (text) => {
        await tick()
        return text === HALF ? 'retry' : undefined
      },
    })
    writeFileSync(h.file, HALF)
    await h.waitDeliveries(2)
    assert.deepStrictEqual(h.deliveries, [
      { text: HALF, recheck: false },
      { text: HALF, recheck: true },
    ])
    // A later read of the same text (a touch) must not deliver it a third time.
    const read = h.nextRead()
    const now = new Date()
    utimesSync(h.file, now, now)
    await read()
    writeFileSync(h.file, B)
    await h.waitDeliveries(3)
    assert.deepStrictEqual(h.deliveries.slice(2), plain(B))
    assert.deepStrictEqual(h.errors, [])
  })

  test('after a recheck, the same broken text written again later is not delivered', async (t) => {
    const h = await setup(t, { answer: (text) => (text === HALF ? 'retry' : undefined) })
    writeFileSync(h.file, HALF)
    await h.waitDeliveries(2)
    const read = h.nextRead()
    writeFileSync(h.file, HALF)
    await read()
    writeFileSync(h.file, C)
    await h.waitDeliveries(3)
    assert.deepStrictEqual(h.deliveries.slice(2), plain(C))
    // A fresh broken text gets its own retry.
    writeFileSync(h.file, HALF)
    await h.waitDeliveries(5)
    assert.deepStrictEqual(h.deliveries.slice(3), [
      { text: HALF, recheck: false },
      { text: HALF, recheck: true },
    ])
  })
})

describe('ConfigFileWatcher: start, errors and close', () => {
  test('without initialText, the content at start is the baseline and is not delivered', async (t) => {
    const h = await setup(t, { initialText: null })
    assert.equal(h.reads(), 1)
    assert.deepStrictEqual(h.deliveries, [])
    writeFileSync(h.file, B)
    await h.waitDeliveries(1)
    assert.deepStrictEqual(h.deliveries, plain(B))
  })

  test('an initialText that differs from the file is delivered at start', async (t) => {
    // The file changed between the consumer's own read and start(): that change is not lost.
    const h = await setup(t, { initialText: C })
    assert.deepStrictEqual(h.deliveries, plain(A))
  })

  test('a file missing at start is delivered when it appears', async (t) => {
    const h = await setup(t, { initialText: null, layout: (dir) => join(dir, 'config.yaml') })
    assert.deepStrictEqual(h.errors, [])
    writeFileSync(h.file, B)
    await h.waitDeliveries(1)
    assert.deepStrictEqual(h.deliveries, plain(B))
  })

  test('start() throws ConfigWatchError when the directory does not exist', (t) => {
    const dir = tempDir(t)
    const watcher = new ConfigFileWatcher(join(dir, 'nope', 'config.yaml'), { onChange: () => {} })
    assert.throws(
      () => watcher.start(),
      (err: unknown) =>
        err instanceof ConfigWatchError && err.code === ErrorCode.CONFIG_READ_FAILED,
    )
    watcher.close()
  })

  test('a read failure is reported once, and the watcher recovers when the file reads', async (t) => {
    const h = await setup(t)
    // A directory in the file's place reads as EISDIR (unlike permissions, also when root).
    unlinkSync(h.file)
    mkdirSync(h.file)
    await waitFor(() => h.errors.length === 1, { message: 'a read error' })
    const read = h.nextRead()
    writeFileSync(join(h.dir, 'other.yaml'), 'x')
    await read()
    assert.equal(h.errors.length, 1, 'the same failure is not reported again')
    const [err] = h.errors
    assert.ok(isConfigError(err))
    assert.equal(err.code, ErrorCode.CONFIG_READ_FAILED)
    rmSync(h.file, { recursive: true })
    writeFileSync(h.file, B)
    await h.waitDeliveries(1)
    assert.deepStrictEqual(h.deliveries, plain(B))
  })

  test('a removed directory is reported as ConfigWatchError and the watcher stops', async (t) => {
    const h = await setup(t)
    rmSync(h.dir, { recursive: true })
    await waitFor(() => h.errors.length > 0, { message: 'a watch error' })
    assert.equal(h.errors.length, 1)
    assert.ok(h.errors[0] instanceof ConfigWatchError)
    assert.equal(h.errors[0].code, ErrorCode.CONFIG_READ_FAILED)
    assert.equal(isConfigError(h.errors[0]), false, 'no document was involved')
  })

  test('an onChange that throws is reported and the watcher goes on', async (t) => {
    const h = await setup(t, {
      answer: (text) => {
        if (text === B) throw new Error('boom')
        return undefined
      },
    })
    writeFileSync(h.file, B)
    await waitFor(() => h.errors.length === 1, { message: 'the onChange failure' })
    assert.equal(h.errors[0]?.code, ErrorCode.INTERNAL)
    writeFileSync(h.file, C)
    await h.waitDeliveries(2)
    assert.deepStrictEqual(h.deliveries, plain(B, C))
  })

  test('watchConfigFile() returns a started watcher', async (t) => {
    const dir = tempDir(t)
    const file = join(dir, 'config.yaml')
    writeFileSync(file, A)
    const delivered: string[] = []
    let reads = 0
    const watcher = watchConfigFile(file, {
      debounceMs: DEBOUNCE_MS,
      initialText: A,
      onChange: (text) => void delivered.push(text),
      readFile: async (path) => {
        try {
          return await readFile(path, 'utf8')
        } finally {
          reads++
        }
      },
    })
    t.after(() => watcher.close())
    // Its first read runs in the background; writing before it ends could race with it.
    await waitFor(() => reads === 1, { message: 'the first read' })
    writeFileSync(file, B)
    await waitFor(() => delivered.length === 1, { message: 'a delivery' })
    assert.deepStrictEqual(delivered, [B])
  })

  test('close() with a change pending: no callback, no read', async (t) => {
    const h = await setup(t)
    // The witness watches the same file with a longer debounce, so it reads strictly after the
    // closed watcher would have: once it delivered, the closed one had its chance.
    const witnessed: string[] = []
    const witness = new ConfigFileWatcher(h.file, {
      debounceMs: 3 * DEBOUNCE_MS,
      initialText: A,
      onChange: (text) => void witnessed.push(text),
    })
    t.after(() => witness.close())
    await witness.start()
    const reads = h.reads()
    writeFileSync(h.file, B)
    h.watcher.close()
    await waitFor(() => witnessed.length === 1, { message: 'the witness delivery' })
    assert.deepStrictEqual(witnessed, [B])
    assert.deepStrictEqual(h.deliveries, [])
    assert.equal(h.reads(), reads)
  })

  test('close() during a read: the result is dropped', async (t) => {
    const dir = tempDir(t)
    const file = join(dir, 'config.yaml')
    writeFileSync(file, A)
    let release: (text: string) => void = () => {}
    let reading = false
    const delivered: string[] = []
    const watcher = new ConfigFileWatcher(file, {
      debounceMs: DEBOUNCE_MS,
      initialText: A,
      onChange: (text) => void delivered.push(text),
      onError: (err) => assert.fail(err),
      readFile: async () => {
        reading = true
        return new Promise<string>((resolve) => (release = resolve))
      },
    })
    t.after(() => watcher.close())
    const started = watcher.start()
    await waitFor(() => reading, { message: 'the first read' })
    watcher.close()
    release(B)
    await started
    await tick()
    assert.deepStrictEqual(delivered, [])
  })
})
