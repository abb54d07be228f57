/**
 * The name → factory table of load balancers: the only switch on balancer names (STYLE.md §G).
 * Adding a balancer means one file, one row here, and passing the conformance suite, which runs
 * over every row of this table.
 */
import type { BalancerName } from '../../config/types.ts'
import { ErrorCode, GatewayError } from '../../errors.ts'
import type { Balancer, BalancerFactory, BalancerOptions, Pickable } from './balancer.ts'
import { createConsistentHashBalancer } from './consistent-hash.ts'
import { createLeastRequestBalancer } from './least-request.ts'
import { createRandomBalancer } from './random.ts'
import { createRoundRobinBalancer } from './round-robin.ts'
import { createWeightedBalancer } from './weighted.ts'

/** Every balancer, by its config name (`upstreams.<name>.balancer`). */
export const BALANCERS: Readonly<Record<BalancerName, BalancerFactory>> = Object.freeze({
  'round-robin': createRoundRobinBalancer,
  weighted: createWeightedBalancer,
  'least-request': createLeastRequestBalancer,
  random: createRandomBalancer,
  'consistent-hash': createConsistentHashBalancer,
})

/**
 * Builds the balancer `name` over `targets`; called once per upstream per snapshot.
 * Throws `HITLESS_ERR_INTERNAL` for a name outside the table, which config validation makes
 * impossible: reaching it means a validator and this table disagree.
 */
export function createBalancer<T extends Pickable>(
  name: BalancerName,
  targets: readonly T[],
  options: BalancerOptions = {},
): Balancer<T> {
  // Own-property check: a name such as `constructor` must not reach Object.prototype.
  if (!Object.hasOwn(BALANCERS, name)) {
    throw new GatewayError(ErrorCode.INTERNAL, `unknown balancer ${JSON.stringify(name)}`)
  }
  return BALANCERS[name](targets, options)
}
