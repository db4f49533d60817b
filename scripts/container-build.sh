#!/usr/bin/env bash
# Builds the mnist-rnn image from the Containerfile with podman (CONTAINER_ENGINE=docker for Docker),
# handing this machine's npm settings (registry, proxy, ~/.npmrc) and CA bundle to the npm install
# step as build secrets: they are mounted for that one step and never stored in a layer.
#   scripts/container-build.sh [TAG] [more build options…]      (TAG defaults to mnist-rnn)
set -euo pipefail
cd "$(dirname "$0")/.."

engine="${CONTAINER_ENGINE:-podman}"
tag="${1:-mnist-rnn}"
shift $(($# > 0 ? 1 : 0))

secret_dir="$(mktemp -d)"
trap 'rm -rf "$secret_dir"' EXIT
chmod 700 "$secret_dir"

npm_setting() {
  local value
  value="$(npm config get "$1" 2>/dev/null || true)"
  case "$value" in null | undefined) value="" ;; esac
  printf '%s' "$value"
}

secrets=()
ca="$(npm_setting cafile)"
ca="${ca:-${NODE_EXTRA_CA_CERTS:-}}"
if [ -n "$ca" ] && [ -s "$ca" ]; then secrets+=(--secret "id=npm_ca,src=$ca"); fi

# The user's .npmrc (auth tokens live there) plus the effective settings that say where the
# registry is, wherever they were configured (global npmrc, environment).
npmrc="$secret_dir/npmrc"
user_npmrc="$(npm_setting userconfig)"
if [ -n "$user_npmrc" ] && [ -f "$user_npmrc" ]; then cat "$user_npmrc" > "$npmrc"; echo >> "$npmrc"; fi
for key in registry proxy https-proxy noproxy strict-ssl; do
  value="$(npm_setting "$key")"
  if [ -n "$value" ]; then echo "$key=$value" >> "$npmrc"; fi
done
if [ -s "$npmrc" ]; then secrets+=(--secret "id=npmrc,src=$npmrc"); fi

"$engine" build -f Containerfile -t "$tag" "${secrets[@]}" "$@" .
