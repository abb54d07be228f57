#!/usr/bin/env node
/**
 * The `hitless` executable: parses argv and dispatches to a command. The only module (with the
 * rest of cli/) that reads argv, prints for humans or exits the process.
 */
import { parseArgs } from 'node:util'
import { parseDuration } from '../config/formats.ts'
import { reloadCommand } from './reload.ts'
import { runCommand } from './run.ts'
import { superviseCommand } from './supervise.ts'
import { upgradeCommand } from './upgrade.ts'
import { isWorker, runWorker } from './worker.ts'
import { validateCommand } from './validate.ts'

const USAGE = `usage:
  hitless [run] [-c FILE] [--workers N] [--pid-file FILE] [--upgrade-timeout 30s]
                [--log-level debug|info|warn|error] [--log-format json|pretty]
  hitless validate -c FILE
  hitless reload [--admin URL] [--token-env NAME] | [--pid-file FILE]
  hitless upgrade --pid-file FILE [--timeout 60s]
options:
  -c, --config FILE      config document (YAML or JSON), default ./hitless.yaml
  --pid-file FILE        run: write this process's id there once serving (kept current across
                         hot upgrades); reload: send SIGHUP to the process it names; upgrade:
                         send SIGUSR2 to it and wait until the file names the new process
  --workers N            run: N worker processes on one set of listeners, under a supervisor
  --upgrade-timeout DUR  run: how long a hot upgrade's new process (or a worker) has to be
                         ready, default 30s
  --timeout DUR          upgrade: how long to wait for the new process, default 60s
  --admin URL            admin API of the running gateway, default http://127.0.0.1:9901
  --token-env NAME       environment variable holding the admin token, default HITLESS_ADMIN_TOKEN
  -h, --help             this text`

const LEVELS = ['debug', 'info', 'warn', 'error'] as const
const FORMATS = ['json', 'pretty'] as const

const io = {
  out: (line: string): void => void process.stdout.write(line + '\n'),
  err: (line: string): void => void process.stderr.write(line + '\n'),
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0]
  const command = first === undefined || first.startsWith('-') ? 'run' : first
  const rest = command === first ? argv.slice(1) : argv
  let values
  try {
    ;({ values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', short: 'c', default: './hitless.yaml' },
        'log-level': { type: 'string', default: 'info' },
        'log-format': { type: 'string', default: 'json' },
        admin: { type: 'string' },
        'token-env': { type: 'string', default: 'HITLESS_ADMIN_TOKEN' },
        'pid-file': { type: 'string' },
        'upgrade-timeout': { type: 'string', default: '30s' },
        workers: { type: 'string' },
        timeout: { type: 'string', default: '60s' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }))
  } catch (err) {
    io.err(`hitless: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (values.help) {
    io.out(USAGE)
    return 0
  }
  const level = LEVELS.find((l) => l === values['log-level'])
  const format = FORMATS.find((f) => f === values['log-format'])
  if (level === undefined || format === undefined) {
    io.err(`hitless: --log-level must be one of ${LEVELS.join('|')}, --log-format json|pretty`)
    return 2
  }
  const upgradeTimeout = parseDuration(values['upgrade-timeout'])
  const timeout = parseDuration(values.timeout)
  if (!upgradeTimeout.ok || !timeout.ok) {
    io.err(`hitless: --upgrade-timeout and --timeout take a duration such as 30s or 500ms`)
    return 2
  }
  switch (command) {
    case 'run': {
      const run = {
        configPath: values.config,
        logLevel: level,
        logFormat: format,
        pidFile: values['pid-file'],
        upgradeTimeoutMs: upgradeTimeout.value,
      }
      // A worker is started with its supervisor's arguments (--workers included).
      if (isWorker()) return runWorker(run, io)
      if (values.workers === undefined) return runCommand(run, io)
      const workers = Number(values.workers)
      if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
        io.err('hitless: --workers takes a whole number from 1 to 256')
        return 2
      }
      return superviseCommand({ ...run, workers }, io)
    }
    case 'upgrade':
      return upgradeCommand({ pidFile: values['pid-file'], timeoutMs: timeout.value }, io)
    case 'validate':
      return validateCommand({ configPath: values.config, env: process.env }, io)
    case 'reload':
      return reloadCommand(
        {
          admin: values.admin,
          pidFile: values['pid-file'],
          tokenEnv: values['token-env'],
          env: process.env,
        },
        io,
      )
    default:
      io.err(`hitless: unknown command "${command}"\n${USAGE}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    io.err(`hitless: unexpected failure: ${(err as Error).message}`)
    process.exit(1)
  },
)
