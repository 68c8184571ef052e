#!/usr/bin/env bash
# Installs the Debian packages miaw needs to build, run and test. Idempotent and quiet
# when everything is present. Usage: scripts/deps.sh
set -euo pipefail
PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev libh2o-dev libuv1-dev libyaml-dev \
libjansson-dev libcurl4-openssl-dev libssl-dev libsignal-protocol-c-dev libprotobuf-c-dev \
protobuf-c-compiler libsqlite3-dev libcunit1-dev libwslay-dev libqrencode-dev zlib1g-dev \
libjpeg62-turbo-dev libpng-dev libwebp-dev libavformat-dev libavcodec-dev libswscale-dev libavutil-dev \
sqlite3 supervisor curl wrk nghttp2-client nodejs npm chromium"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node may come from outside Debian's packages; accept any node >= 20 on PATH.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo "$missing" | xargs)
[ -z "$missing" ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing $missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
