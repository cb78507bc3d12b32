#!/usr/bin/env bash
# Makes a local stand-in for the official `node:20-bookworm-slim` image, for the Docker smoke test on a
# machine that reaches no container registry (DESIGN.md "Docker here"): a debootstrap'd Debian bookworm
# (minbase) with this machine's Node 20 + npm + Node headers copied in, imported and tagged with the
# name the Dockerfile uses, so the real Dockerfile builds unchanged.
#
# Two facts of this machine go into the stand-in (never into the Dockerfile): its CA bundle (the
# registries are reached through a TLS-inspecting proxy), as NODE_EXTRA_CA_CERTS and npm's cafile; and
# npm's nodedir (node-gyp compiles against the local headers, no header download works).
#
# Usage: stand-in-base.sh [TAG]   (root; dockerd running). The debootstrap tarball is cached in
# $LABLOG_DOCKER_CACHE (default /var/cache/lablog-test), so a rerun takes seconds.
set -euo pipefail
tag="${1:-node:20-bookworm-slim}"
cache="${LABLOG_DOCKER_CACHE:-/var/cache/lablog-test}"
mirror="${LABLOG_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
rootfs_tar="$cache/bookworm-minbase.tar"
mkdir -p "$cache"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"

if [ ! -s "$rootfs_tar" ]; then
  echo "stand-in-base: debootstrap bookworm (minbase) from $mirror" >&2
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # Slim it like the official -slim images: no package cache, lists, docs, man pages or locales.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/var/log/*.log \
    "$root"/var/cache/debconf/*-old
  tar -C "$root" --numeric-owner -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$root"
fi

mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$rootfs_tar"

# This machine's Node, where the official image has it (/usr/local).
node_bin="$(node -p process.execPath)"
npm_dir="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"    # .../node_modules/npm
nodedir="$(npm config get nodedir 2>/dev/null || true)"
[ -n "$nodedir" ] && [ "$nodedir" != "undefined" ] || nodedir="$(dirname "$(dirname "$node_bin")")"
cafile="$(npm config get cafile 2>/dev/null || true)"
[ -n "$cafile" ] && [ "$cafile" != "undefined" ] && [ "$cafile" != "null" ] || cafile="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"

install -D -m 0755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/include"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
cp -a "$nodedir/include/node" "$root/usr/local/include/node"
install -D -m 0644 "$cafile" "$root/usr/local/share/lablog-test/ca.crt"
mkdir -p "$root/usr/local/etc"
cat >"$root/usr/local/etc/npmrc" <<NPMRC
cafile=/usr/local/share/lablog-test/ca.crt
nodedir=/usr/local
update-notifier=false
NPMRC

# The official image's unprivileged user.
grep -q '^node:' "$root/etc/group" || echo 'node:x:1000:' >>"$root/etc/group"
grep -q '^node:' "$root/etc/passwd" || echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$root/etc/passwd"
grep -q '^node:' "$root/etc/shadow" 2>/dev/null || echo 'node:*:19000:0:99999:7:::' >>"$root/etc/shadow"
install -d -o 1000 -g 1000 "$root/home/node"

docker rmi -f "$tag" >/dev/null 2>&1 || true
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/lablog-test/ca.crt' \
  --change 'ENV NODE_VERSION='"$("$node_bin" -p process.versions.node)" \
  --change 'LABEL lablog.stand-in=true' \
  --change 'CMD ["node"]' \
  - "$tag" >/dev/null
echo "stand-in-base: $tag ready ($(docker image inspect -f '{{.Size}}' "$tag") bytes)" >&2
