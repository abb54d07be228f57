/**
 * The library entry (SPEC §8): createGateway and the public types. Nothing else is exported
 * from the package root.
 */
export { createGateway, Gateway } from './gateway.ts'
export type { GatewayOptions, GatewayAddresses, Env } from './gateway.ts'
export { ErrorCode, GatewayError, ConfigError } from './errors.ts'
export type { ConfigIssue } from './errors.ts'
export type { GatewayConfig } from './config/types.ts'
export type { ReloadResult, HistoryEntry } from './lifecycle/reload.ts'
export type { RolloutResult, RolloutView, VersionCounts } from './lifecycle/rollout.ts'
export type {
  Context,
  Middleware,
  ResponseHead,
  UpstreamInfo,
  HeaderList,
  RequestHeaderEdits,
} from './proxy/middleware.ts'
