import {ServingCore, ServingLog} from '../api.js'
import {ServingMetrics} from './metrics.js'

/** Another front end over the same core (the gRPC server): started after REST, shut down with it. */
export interface ServingFrontend {
  name: string
  /** Where clients reach it, for the start-up banner. */
  address: string
  /** Stops accepting, lets calls under way finish for up to `timeoutMs` (--drain-timeout-seconds), then cuts them. */
  shutdown(timeoutMs: number): Promise<void>
}

export type FrontendStarter = (context: {core: ServingCore; metrics: ServingMetrics; log: ServingLog}) => Promise<ServingFrontend>
