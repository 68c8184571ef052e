#!/usr/bin/env bash
# Builds the Debian packages miaw and miaw-dev (debian/, debhelper compat 13) into
# build-deb/dist/ (or $MIAW_DEB_OUT). Installs debhelper and dpkg-dev when missing. The build
# directory build-deb/ is kept, so a second run only rebuilds what changed.
# Usage: scripts/package.sh [-jN]   (default -j2). Prints the .deb paths.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=2
for a in "$@"; do
  case "$a" in
    -j*) JOBS=${a#-j} ;;
    *) echo "usage: scripts/package.sh [-jN]" >&2; exit 2 ;;
  esac
done
need=""
command -v dh >/dev/null 2>&1 || need="$need debhelper"
command -v dpkg-buildpackage >/dev/null 2>&1 || need="$need dpkg-dev"
if [ -n "$need" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "package: installing$need" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
if [ ! -f web/node_modules/swagger-ui-dist/swagger-ui-bundle.js ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error) >/dev/null
fi
OUT=${MIAW_DEB_OUT:-build-deb/dist}
mkdir -p "$OUT"
rm -f "$OUT"/miaw*.deb
# debian/rules directly (no dpkg-buildpackage): no source package, no clean of the
# build tree, and the .debs land in $OUT rather than the parent directory
export MIAW_DEB_OUT="$(cd "$OUT" && pwd)"
export DEB_BUILD_OPTIONS="parallel=$JOBS nocheck ${DEB_BUILD_OPTIONS:-}"
LOG=$(mktemp)
# debhelper's stamps say which steps ran; the build directory alone says what is built
rm -f debian/debhelper-build-stamp debian/*.debhelper.log
if ! { debian/rules build && debian/rules binary; } >"$LOG" 2>&1; then
  grep -E "^(dh_|make|CMake Error|dpkg)|error:" "$LOG" | tail -40 >&2
  echo "package: build failed (log: $LOG)" >&2
  exit 1
fi
rm -f "$LOG"
ls "$MIAW_DEB_OUT"/miaw_*.deb "$MIAW_DEB_OUT"/miaw-dev_*.deb
