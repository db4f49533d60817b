#!/bin/sh
# Removes from a production node_modules what never runs on this platform, for a smaller image:
#   - native binaries for other systems and CPUs that packages ship side by side
#     (`bin/napi-v*/<os>/<arch>/`, as in onnxruntime-node; `prebuilds/<os>-<arch>/`, node-gyp-build);
#   - the browser builds of TensorFlow.js packages (ES modules, UMD and minified bundles, WeChat
#     mini-program builds: ~70 MB) beside the one Node loads, their `main` bundle `dist/*.node.js`,
#     except the files named after NODE_MODULES_DIR (paths inside it) that the application uses;
#   - source maps and TypeScript declarations (Node loads neither).
# Usage: prune-node-modules.sh NODE_MODULES_DIR [KEEP…]
set -eu
modules="${1:?usage: prune-node-modules.sh NODE_MODULES_DIR [KEEP…]}"
shift

is_kept() {
  for kept in "$@"; do
    if [ "$kept" = "$path" ]; then return 0; fi
  done
  return 1
}
os="$(node -p process.platform)"
arch="$(node -p process.arch)"

find "$modules" -type d -path '*/bin/napi-v*' -prune | while read -r napi; do
  for entry in "$napi"/*; do
    if [ ! -d "$entry" ]; then continue; fi
    if [ "$(basename "$entry")" != "$os" ]; then rm -rf "$entry"; continue; fi
    for cpu in "$entry"/*; do
      if [ -d "$cpu" ] && [ "$(basename "$cpu")" != "$arch" ]; then rm -rf "$cpu"; fi
    done
  done
done

find "$modules" -type d -name prebuilds -prune | while read -r prebuilds; do
  for entry in "$prebuilds"/*; do
    case "$(basename "$entry")" in
      "$os-$arch" | "$os-$arch"[+@-]*) ;;
      *) rm -rf "$entry" ;;
    esac
  done
done

for package in "$modules"/@tensorflow/*/; do
  [ -f "$package/package.json" ] || continue
  main="$(node -p "JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')).main || ''" "${package}package.json")"
  case "$main" in dist/*.node.js) ;; *) continue ;; esac
  for entry in "${package}dist"/*; do
    path="${entry#"$modules"/}"
    case "$entry" in *.node.js | *.wasm) continue ;; esac
    if is_kept "$@"; then continue; fi
    rm -rf "$entry"
  done
done

find "$modules" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.tsbuildinfo' \) -delete
