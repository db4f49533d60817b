import * as grpc from '@grpc/grpc-js'

import {errorMessage} from '../../core/errors.js'
import {GrpcMethod, servingErrorCodeOf, startGrpcServer} from './service.js'
import {V2_GRPC_ROUTE_OF} from './v2-service.js'
import {DRAIN_TIMEOUT_MS, FrontendStarter} from '../core/frontend.js'
import {HTTP_STATUS_OF} from '../api.js'

/** Route labels in the shared request metrics, beside REST's. */
const METRICS_ROUTE_OF: Record<GrpcMethod, string> = {
  Predict: 'grpc_predict',
  GetModelMetadata: 'grpc_model_metadata',
  GetModelStatus: 'grpc_model_status',
  ...V2_GRPC_ROUTE_OF,
}

const HTTP_OK = 200
/** Statuses that are none of the core's errors (grpc-js's own RESOURCE_EXHAUSTED, say). */
const HTTP_UNKNOWN_ERROR = 500

/** A gRPC status as the HTTP status REST would have answered, so one metric counts both front ends. */
function httpEquivalentOf(code: grpc.status): number {
  if (code === grpc.status.OK) return HTTP_OK
  const servingCode = servingErrorCodeOf(code)
  return servingCode ? HTTP_STATUS_OF[servingCode] : HTTP_UNKNOWN_ERROR
}

/**
 * `serve --grpc-port`: TF Serving's gRPC API and the Open Inference Protocol's over the same
 * core (model manager and batching queue) as REST, counted in the same metrics, drained by the
 * same shutdown.
 */
export function grpcFrontend(options: {host: string; port: number}): FrontendStarter {
  return async ({core, metrics, log, modelName}) => {
    const server = await startGrpcServer(core, {
      host: options.host,
      port: options.port,
      modelName,
      onCall: (method, code, seconds) => metrics.observeRequest(METRICS_ROUTE_OF[method], httpEquivalentOf(code), seconds),
      onInternalError: (method, error) => log.error(`gRPC ${method} failed: ${errorMessage(error)}`),
    })
    return {name: 'gRPC', address: server.address, shutdown: () => server.shutdown(DRAIN_TIMEOUT_MS)}
  }
}
