#!/usr/bin/env bash
# Build the fulcrum appliance image: `bun run image [-- --profile lab] [--force]`.
#
# 1. bundles the app (bun build) and stages it with the baseline Bun binary (no AVX2 needed);
# 2. runs mkosi (mkosi.conf + image/) to make the disk image and the split artifacts;
# 3. writes out/image/<profile>/manifest.json (what the QEMU harness boots) and prints time and sizes.
#
# --sign-key KEY.pem also packs the signed update artifact (scripts/artifact.ts, docs/update.md).
#
# Builds are cached OUTSIDE the clone, keyed on every input, so a later run (or CI on the same
# machine) reuses them: $FULCRUM_CACHE_DIR (default /var/cache/fulcrum) holds mkosi's package cache,
# its incremental cache and finished images. --force ignores the finished-image cache.
# Environment: FULCRUM_IMAGE_VERSION (default <package version>.<UTC timestamp>), FULCRUM_CACHE_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

profile=production force=0 sign_key=
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=${2:?--profile needs production or lab}; shift 2 ;;
    --profile=*) profile=${1#--profile=}; shift ;;
    --force | -f) force=1; shift ;;
    --sign-key) sign_key=${2:?--sign-key needs a PEM file}; shift 2 ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "image: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$profile" in production | lab) ;; *) echo "image: profile must be production or lab" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "image: mkosi needs root (run as root or with sudo)" >&2; exit 1; }
command -v mkosi >/dev/null || { echo "image: mkosi missing; run scripts/setup.sh" >&2; exit 1; }

BUN=$ROOT/node_modules/.bin/bun
BASELINE_BUN=$ROOT/node_modules/@oven/bun-linux-x64-baseline/bin/bun
[ -x "$BASELINE_BUN" ] || { echo "image: $BASELINE_BUN missing; run npm ci" >&2; exit 1; }
CACHE=${FULCRUM_CACHE_DIR:-/var/cache/fulcrum}
# out/image/<profile> is a symlink to the current build under out/image/.builds/: a new build never
# pulls files from under a guest that is still running on an older one (its overlay's backing file).
LINK=$ROOT/out/image/$profile
BUILDS=$ROOT/out/image/.builds
STAGE=$ROOT/out/build/$profile
mkdir -p "$CACHE/mkosi/$profile" "$CACHE/mkosi-packages" "$CACHE/images" "$BUILDS"
[ -L "$LINK" ] || rm -rf "$LINK" # an older layout kept a plain directory here

# One build per profile at a time: tests, `bun run lab` and people may all ask at once.
exec 9>"$CACHE/.lock-$profile"
flock 9

# Points out/image/<profile> at build directory $1 (atomically) and keeps the newest three builds.
publish() {
  ln -sfn ".builds/$(basename "$1")" "$LINK.new.$$"
  mv -Tf "$LINK.new.$$" "$LINK"
  ls -1dt "$BUILDS/$profile-"* 2>/dev/null | tail -n +4 | xargs -r rm -rf
}

t0=$(date +%s%N)
elapsed() { echo "$(((($(date +%s%N) - t0) / 1000000)))"; }

# Cache key: every file that goes into the image, the tools that build it, and the profile.
inputs=$( {
  echo "profile=$profile version=${FULCRUM_IMAGE_VERSION:-auto}"
  mkosi --version
  busybox 2>&1 | head -1
  sha256sum "$BASELINE_BUN"
  git ls-files -co --exclude-standard -z -- mkosi.conf image src ffi package.json package-lock.json bunfig.toml \
    | sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-16)
cached=$CACHE/images/$profile-$inputs

if [ "$force" = 0 ] && [ -f "$cached/manifest.json" ]; then
  dest=$BUILDS/$profile-$inputs
  if [ ! -f "$dest/manifest.json" ]; then
    tmp=$(mktemp -d "$BUILDS/.tmp-XXXXXX")
    cp -a --sparse=always --reflink=auto "$cached"/. "$tmp"/
    rm -rf "$dest" && mv "$tmp" "$dest"
  fi
  touch "$dest"
  publish "$dest"
  echo "image: $profile unchanged (inputs $inputs), reused the cached build in $(elapsed) ms"
  [ -z "$sign_key" ] || "$BUN" scripts/artifact.ts --key "$sign_key" --profile "$profile"
  exec "$BUN" scripts/image-report.ts "$LINK/manifest.json"
fi

version=${FULCRUM_IMAGE_VERSION:-$(jq -r .version package.json 2>/dev/null || sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' package.json | head -1).$(date -u +%Y%m%d%H%M%S)}
build_id="$(git rev-parse --short=12 HEAD 2>/dev/null || echo nogit)$(git diff --quiet HEAD -- src ffi 2>/dev/null || echo -dirty)"

# Stage what mkosi adds on top of the packages: the baseline Bun, the bundle, and the image manifest.
rm -rf "$STAGE" && mkdir -p "$STAGE/usr/lib/fulcrum"
# The app, PID 1's init and each Worker as its own bundle (ffi/worker-url.ts finds workers next to the
# entry). The app and the init, which every boot starts first, ship as CommonJS with precompiled bytecode
# (*.js.jsc): under emulation that halves the time to load them.
bundle() {
  "$BUN" build "$1" --target=bun --minify-syntax --minify-whitespace "${@:3}" \
    --define "FULCRUM_BUILD_ID=\"$build_id\"" --outdir "$STAGE/usr/lib/fulcrum" --entry-naming "$2.[ext]" >/dev/null
}
bundle src/main.ts fulcrum --format=cjs --bytecode
bundle src/init-main.ts fulcrum-init --format=cjs --bytecode
bundle src/vrrp/worker.ts vrrp-worker
bundle ffi/fd-watch-worker.ts fd-watch-worker
bundle src/update/chunk-worker.ts update-worker
cp "$BASELINE_BUN" "$STAGE/usr/lib/fulcrum/bun"
debug_shell=null
[ "$profile" = lab ] && debug_shell='"/dev/hvc0"'
cat >"$STAGE/usr/lib/fulcrum/image.json" <<EOF
{ "profile": "$profile", "version": "$version", "build": "$build_id", "debugShell": $debug_shell }
EOF
bundle_ms=$(elapsed)

include=()
[ "$profile" = lab ] && include=(--include=image/profiles/lab.conf)
OUT=$BUILDS/$profile-$version-$inputs
rm -rf "$OUT" && mkdir -p "$OUT"
nice -n 10 mkosi --force \
  --image-version="$version" \
  --output-dir="$OUT" \
  --cache-dir="$CACHE/mkosi/$profile" \
  --package-cache-dir="$CACHE/mkosi-packages" \
  --extra-tree="$STAGE" \
  "${include[@]}" \
  build >"$OUT/mkosi.log" 2>&1 || { tail -40 "$OUT/mkosi.log" >&2; echo "image: mkosi failed (log: $OUT/mkosi.log)" >&2; exit 1; }
mkosi_ms=$(($(elapsed) - bundle_ms))

"$BUN" scripts/image-manifest.ts "$OUT" "$profile" "$version" "$build_id" "$inputs" "$bundle_ms" "$mkosi_ms"

# Publish to the cache (atomically: a half-copied build is never reused).
tmp=$(mktemp -d "$CACHE/images/.tmp-XXXXXX")
cp -a --sparse=always --reflink=auto "$OUT"/. "$tmp"/
rm -rf "$cached" && mv "$tmp" "$cached"
# Keep the newest three cached builds per profile.
ls -1dt "$CACHE/images/$profile-"* 2>/dev/null | tail -n +4 | xargs -r rm -rf
publish "$OUT"
[ -z "$sign_key" ] || "$BUN" scripts/artifact.ts --key "$sign_key" --profile "$profile"
exec "$BUN" scripts/image-report.ts "$LINK/manifest.json"
