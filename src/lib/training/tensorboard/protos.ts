import protobuf from 'protobufjs'
import {isAbsolute, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {Histogram} from './histogram.js'

/** The repo's `proto/` folder (four levels up from both src/lib/training/tensorboard and its dist copy). */
const PROTO_DIR = fileURLToPath(new URL('../../../../proto', import.meta.url))
/** TensorBoard's copies of TensorFlow's event.proto and summary.proto (package `tensorboard`). */
const EVENT_PROTO = 'tensorboard/compat/proto/event.proto'

/** The Event fields mnist-rnn writes, named as in event.proto (one of file_version, summary, session_log). */
export interface EventFields {
  wall_time: number
  step: number
  file_version?: string
  summary?: {value: SummaryValue[]}
  session_log?: {status: SessionStatus}
}

/** SessionLog.SessionStatus: START tells TensorBoard that steps from here on replace older ones. */
export type SessionStatus = 'START' | 'STOP' | 'CHECKPOINT'

/** A Summary.Value: a tag and one of simple_value, histo, image. */
export type SummaryValue =
  | {tag: string; simple_value: number}
  | {tag: string; histo: Histogram}
  | {tag: string; image: SummaryImage}

/** Summary.Image: an encoded PNG, its size and colorspace (4 = RGBA). */
export interface SummaryImage {
  height: number
  width: number
  colorspace: number
  encoded_image_string: Uint8Array
}

let eventType: protobuf.Type | undefined

/** tensorboard.Event from TensorBoard's .proto files under proto/, loaded once. */
function loadEventType(): protobuf.Type {
  if (!eventType) {
    const root = new protobuf.Root()
    root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(PROTO_DIR, target))
    root.loadSync(EVENT_PROTO, {keepCase: true})
    eventType = root.lookupType('tensorboard.Event')
  }
  return eventType
}

/** An Event serialized in the protobuf wire format. */
export function encodeEvent(event: EventFields): Uint8Array {
  const type = loadEventType()
  return type.encode(type.fromObject(event)).finish()
}
