import {VersionStatus} from '../api.js'

/**
 * The one home of what the front ends say about version states: TF Serving's ModelVersionStatus
 * message (its REST API and gRPC ModelService print the same message) and which versions answer
 * requests (the Open Inference Protocol's model readiness and metadata).
 */

/** TF Serving's ModelVersionStatus: error_code OK, or UNKNOWN with the reason a version failed. */
export interface ModelVersionStatusMessage {
  version: number
  state: string
  status: {error_code: string; error_message: string}
}

export function modelVersionStatusMessages(statuses: VersionStatus[]): ModelVersionStatusMessage[] {
  return statuses.map((status) => ({
    version: status.version,
    state: status.state,
    status: {error_code: status.errorMessage ? 'UNKNOWN' : 'OK', error_message: status.errorMessage},
  }))
}

/** The versions that answer requests now, highest first. */
export function availableVersions(statuses: VersionStatus[]): number[] {
  return statuses
    .filter((status) => status.state === 'AVAILABLE')
    .map((status) => status.version)
    .sort((a, b) => b - a)
}
