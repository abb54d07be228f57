// hitless used as a library (SPEC §8) with MIDDLEWARE no-op middleware (`await next()`), on the
// macro benchmark's own config (bench/configs/hitless.yaml). bench/middleware.js compares 0, 1
// and 5 middleware. Usage: ORIGIN_URL=… MIDDLEWARE=N node hitless-library.js (prints
// "listening PORT"; the access log follows on stdout, as with the CLI candidate).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const dist = process.env.BENCH_HITLESS_DIST ?? path.join(here, '..', '..', 'dist')
const { createGateway } = await import(pathToFileURL(path.join(dist, 'index.js')).href)

const count = Number(process.env.MIDDLEWARE ?? 0)
const originPort = new URL(process.env.ORIGIN_URL).port
const config = fs
  .readFileSync(path.join(here, '..', 'configs', 'hitless.yaml'), 'utf8')
  .replace(/\$\{ORIGIN_PORT\}/g, originPort)
  .replace(/\$\{HITLESS_PORT\}/g, '0')
const gateway = createGateway({ config, logLevel: 'info' })
for (let i = 0; i < count; i++) {
  gateway.use(async (_ctx, next) => {
    await next()
  })
}
await gateway.start()
const address = gateway.addresses.listeners[0].address
process.stdout.write(`listening ${address.slice(address.lastIndexOf(':') + 1)}\n`)
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => void gateway.close().then(() => process.exit(0)))
}
