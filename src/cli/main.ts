#!/usr/bin/env node
/**
 * The `hitless` executable: parses argv and dispatches to a command. The only module (with the
 * rest of cli/) that reads argv, prints for humans or exits the process.
 */
import { parseArgs } from 'node:util'
import { parseDuration, parseOriginUrl } from '../config/formats.ts'
import { configPushCommand } from './config-push.ts'
import { reloadCommand } from './reload.ts'
import { runCommand, type RunOptions } from './run.ts'
import { superviseCommand } from './supervise.ts'
import { upgradeCommand } from './upgrade.ts'
import { isWorker, runWorker } from './worker.ts'
import { validateCommand } from './validate.ts'

const USAGE = `usage:
  hitless [run] [-c FILE] [--workers N] [--pid-file FILE] [--upgrade-timeout 30s]
                [--log-level debug|info|warn|error] [--log-format json|pretty]
  hitless [run] --etcd URL[,URL] --etcd-key KEY [--pid-file FILE] [--log-level …]
  hitless validate -c FILE [--etcd URL[,URL]]
  hitless config push -c FILE --etcd URL[,URL] --etcd-key KEY
  hitless reload [--admin URL] [--token-env NAME] | [--pid-file FILE]
  hitless upgrade --pid-file FILE [--timeout 60s]
options:
  -c, --config FILE      config document (YAML or JSON), default ./hitless.yaml
  --pid-file FILE        run: write this process's id there once serving (kept current across
                         hot upgrades); reload: send SIGHUP to the process it names; upgrade:
                         send SIGUSR2 to it and wait until the file names the new process
  --workers N            run: N worker processes on one set of listeners, under a supervisor
  --etcd URLS            run: fleet mode, the config document is read from etcd (and kept
                         current by a watch); config push: the cluster to write to; validate:
                         etcd discovery may use this cluster. Comma-separated http(s) URLs
  --etcd-key KEY         the etcd key holding the config document
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

const OPTIONS = {
  config: { type: 'string', short: 'c', default: './hitless.yaml' },
  'log-level': { type: 'string', default: 'info' },
  'log-format': { type: 'string', default: 'json' },
  admin: { type: 'string' },
  'token-env': { type: 'string', default: 'HITLESS_ADMIN_TOKEN' },
  'pid-file': { type: 'string' },
  'upgrade-timeout': { type: 'string', default: '30s' },
  workers: { type: 'string' },
  etcd: { type: 'string' },
  'etcd-key': { type: 'string' },
  timeout: { type: 'string', default: '60s' },
  help: { type: 'boolean', short: 'h', default: false },
} as const

/** The flags of every command (unknown ones throw). */
function parseOptions(args: string[]) {
  return parseArgs({ args, options: OPTIONS, strict: true }).values
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0]
  let command = first === undefined || first.startsWith('-') ? 'run' : first
  let rest = command === first ? argv.slice(1) : argv
  if (command === 'config') {
    command = `config ${rest[0] ?? ''}`
    rest = rest.slice(1)
  }
  let values
  try {
    values = parseOptions(rest)
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
  const etcd = parseEtcd(values.etcd, values['etcd-key'])
  if (typeof etcd === 'string') {
    io.err(`hitless: ${etcd}`)
    return 2
  }
  switch (command) {
    case 'run':
      return run(
        {
          configPath: values.config,
          logLevel: level,
          logFormat: format,
          pidFile: values['pid-file'],
          upgradeTimeoutMs: upgradeTimeout.value,
        },
        etcd,
        values.workers,
      )
    case 'upgrade':
      return upgradeCommand({ pidFile: values['pid-file'], timeoutMs: timeout.value }, io)
    case 'validate':
      return validateCommand(
        { configPath: values.config, env: process.env, etcdCluster: etcd !== undefined },
        io,
      )
    case 'config push':
      if (etcd?.key === undefined) {
        io.err('hitless: config push needs --etcd URLS and --etcd-key KEY')
        return 2
      }
      return configPushCommand(
        { configPath: values.config, endpoints: etcd.endpoints, key: etcd.key, env: process.env },
        io,
      )
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

/** `hitless run`: one process, a worker, a supervisor of workers, or a fleet member. */
function run(
  options: RunOptions,
  etcd: { endpoints: string[]; key: string | undefined } | undefined,
  workersFlag: string | undefined,
): Promise<number> | number {
  if (etcd !== undefined && etcd.key === undefined) {
    io.err('hitless: --etcd needs --etcd-key (the key holding the config document)')
    return 2
  }
  if (etcd !== undefined && workersFlag !== undefined) {
    io.err('hitless: --workers is not available in fleet mode (--etcd) yet')
    return 2
  }
  const opts: RunOptions =
    etcd === undefined
      ? options
      : { ...options, etcd: { endpoints: etcd.endpoints, key: etcd.key ?? '' } }
  // A worker is started with its supervisor's arguments (--workers included).
  if (isWorker()) return runWorker(opts, io)
  if (workersFlag === undefined) return runCommand(opts, io)
  const workers = Number(workersFlag)
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    io.err('hitless: --workers takes a whole number from 1 to 256')
    return 2
  }
  return superviseCommand({ ...opts, workers }, io)
}

/** `--etcd` and `--etcd-key`: the cluster's endpoints and the key, or what is wrong. */
function parseEtcd(
  urls: string | undefined,
  key: string | undefined,
): { endpoints: string[]; key: string | undefined } | string | undefined {
  if (urls === undefined) {
    return key === undefined ? undefined : '--etcd-key needs --etcd (the cluster)'
  }
  const endpoints: string[] = []
  for (const url of urls.split(',').map((u) => u.trim())) {
    const origin = parseOriginUrl(url)
    if (!origin.ok) return `--etcd: ${origin.message}`
    endpoints.push(origin.value)
  }
  if (key !== undefined && key === '') return '--etcd-key must not be empty'
  return { endpoints, key }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    io.err(`hitless: unexpected failure: ${(err as Error).message}`)
    process.exit(1)
  },
)
