import protobuf from 'protobufjs'
import {fileURLToPath} from 'node:url'

/** ONNX's own `onnx.proto` (proto2), copied unchanged under `proto/onnx/` (see proto/README.md). */
export const ONNX_PROTO_FILE = fileURLToPath(new URL('../../../../proto/onnx/onnx.proto', import.meta.url))

/** The ONNX messages this toolkit writes and reads, compiled at run time by protobufjs. */
export interface OnnxProtos {
  ModelProto: protobuf.Type
  /** `TensorProto.DataType` values by name (FLOAT = 1, INT64 = 7, …). */
  DataType: Record<string, number>
  /** `AttributeProto.AttributeType` values by name (INT = 2, STRINGS = 8, …). */
  AttributeType: Record<string, number>
}

let loaded: OnnxProtos | undefined

export function onnxProtos(): OnnxProtos {
  if (!loaded) {
    // keepCase: field names as onnx.proto spells them (raw_data, op_type), not camelCased.
    const root = new protobuf.Root().loadSync(ONNX_PROTO_FILE, {keepCase: true})
    loaded = {
      ModelProto: root.lookupType('onnx.ModelProto'),
      DataType: root.lookupEnum('onnx.TensorProto.DataType').values,
      AttributeType: root.lookupEnum('onnx.AttributeProto.AttributeType').values,
    }
  }
  return loaded
}
