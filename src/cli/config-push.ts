/**
 * `hitless config push -c FILE --etcd URLS --etcd-key KEY`: validates the document as a fleet
 * gateway would (fleet mode's cluster available to etcd discovery; `${VAR}` from this shell's
 * environment, so set what the document needs), and only then writes its text, as it is, to
 * the key. Each gateway interpolates it with its own environment when it applies it. Prints the
 * revision written (exit 0); every issue, or why etcd could not be written (exit 1).
 */
import { isConfigError, loadConfig, readConfigFile } from '../config/load.ts'
import { connectEtcd } from '../etcd/client.ts'
import { issueLine, type CommandIo } from './validate.ts'

export interface ConfigPushOptions {
  readonly configPath: string
  readonly endpoints: readonly string[]
  readonly key: string
  readonly env: Readonly<Record<string, string | undefined>>
}

export async function configPushCommand(opts: ConfigPushOptions, io: CommandIo): Promise<number> {
  const { configPath, endpoints, key } = opts
  let text: string
  try {
    text = await readConfigFile(configPath)
    loadConfig(text, { source: configPath, env: opts.env, etcdCluster: true })
  } catch (err) {
    if (!isConfigError(err)) throw err
    for (const issue of err.issues) io.err(issueLine(configPath, issue))
    io.err(`not pushed: ${configPath} is invalid; etcd is unchanged`)
    return 1
  }
  const client = await connectEtcd(endpoints)
  try {
    const res = await client.put(key).value(text).exec()
    io.out(`pushed: ${configPath} → etcd ${key} at revision ${res.header.revision}`)
    return 0
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    io.err(`hitless: cannot write ${key} to etcd (${endpoints.join(',')}): ${message}`)
    return 1
  } finally {
    client.close()
  }
}
