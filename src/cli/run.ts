/**
 * `hitless run`: start the gateway and stay in the foreground, watching the config file.
 * SIGHUP reloads it; SIGTERM/SIGINT drain and exit 0, a second one exits at once. Config errors
 * at start are printed one per line and exit 1.
 */
import { createGateway } from '../gateway.ts'
import { flushLogger, type LogFormat, type LogLevel } from '../log/logger.ts'
import { printStartError } from './print-error.ts'

export interface RunOptions {
  readonly configPath: string
  readonly logLevel: LogLevel
  readonly logFormat: LogFormat
}

export interface CliIo {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
}

/** Runs until stopped by a signal; resolves with the process exit code. */
export async function runCommand(opts: RunOptions, io: CliIo): Promise<number> {
  const gateway = createGateway({
    configPath: opts.configPath,
    watch: true,
    logLevel: opts.logLevel,
    logFormat: opts.logFormat,
  })
  try {
    await gateway.start()
  } catch (err) {
    printStartError(err, opts.configPath, io)
    flushLogger(gateway.logger)
    return 1
  }
  return new Promise<number>((resolve) => {
    let stopping = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        gateway.logger.warn({ signal }, 'second signal: exiting at once')
        flushLogger(gateway.logger)
        process.exit(1)
      }
      stopping = true
      gateway.logger.info({ signal }, 'graceful stop requested')
      gateway.close().then(
        () => resolve(0),
        (err: unknown) => {
          gateway.logger.error({ err }, 'error while stopping')
          resolve(1)
        },
      )
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    process.on('SIGHUP', () => {
      gateway.logger.info({ signal: 'SIGHUP' }, 'reload requested')
      // The outcome is logged, counted and kept in the history by the reload pipeline.
      void gateway.reload(undefined, 'signal')
    })
  }).finally(() => flushLogger(gateway.logger))
}
