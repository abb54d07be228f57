/**
 * The identity of the code that runs, shown by `GET /healthz`: after a hot upgrade (SIGUSR2) it
 * tells which code on disk the serving process started from. `VERSION` follows package.json (a
 * unit test keeps them equal); `BUILD_ID` is a label a release process may stamp into the built
 * file (dist/version.js), "dev" otherwise.
 */
export const VERSION = '0.1.0'
export const BUILD_ID = 'dev'
