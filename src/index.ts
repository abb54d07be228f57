/**
 * The library entry (SPEC §8): createGateway and the public types. Nothing else is exported
 * from the package root.
 */
export { createGateway, Gateway } from './gateway.ts'
export type { GatewayOptions, GatewayAddresses, Env } from './gateway.ts'
export { ErrorCode, GatewayError, ConfigError } from './errors.ts'
export type { ConfigIssue } from './errors.ts'
export type { GatewayConfig } from './config/types.ts'
