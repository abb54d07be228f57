/**
 * Runs the router conformance suite on the router the gateway ships with.
 */

import { createRouter } from '../../src/router/router.ts'
import { routerConformance } from './router.suite.ts'

routerConformance('createRouter', createRouter)
