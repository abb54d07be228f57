/**
 * Preloaded with `node --import` by a hot-upgrade test: in the process a SIGUSR2 starts (it has
 * HITLESS_UPGRADE_FROM), it holds module loading for a minute, so the new process never reports
 * ready and the old one's upgrade timeout must stop it. The first process is not affected.
 */
if (process.env['HITLESS_UPGRADE_FROM'] !== undefined) {
  await new Promise((resolve) => setTimeout(resolve, 60_000))
}
export {}
