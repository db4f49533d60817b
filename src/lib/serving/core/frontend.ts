import {ServingCore, ServingLog} from '../api.js'
import {ServingMetrics} from './metrics.js'

/** How long a graceful shutdown waits for in-flight requests before cutting connections. */
export const DRAIN_TIMEOUT_MS = 30_000
/** Another front end over the same core (the gRPC server): started after REST, shut down with it. */
export interface ServingFrontend {
  name: string
  /** Where clients reach it, for the start-up banner. */
  address: string
  shutdown(): Promise<void>
}

export type FrontendStarter = (context: {core: ServingCore; metrics: ServingMetrics; log: ServingLog; modelName: string}) => Promise<ServingFrontend>
