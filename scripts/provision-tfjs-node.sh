#!/usr/bin/env bash
# Vendored unchanged from the team's shared recipe (shared/tfjs-node/provision-tfjs-node.sh) so the
# project stands alone; .ci/run calls it after `npm ci`, and scripts/tfjs_node_env.mjs names it
# when the tensorflow test part finds no addon.
# provision-tfjs-node.sh - make @tensorflow/tfjs-node(-gpu)@4.x work OFFLINE.
#
# The packages' own install script downloads libtensorflow 2.9.1 (and a
# prebuilt addon) from Google storage, which is unreachable here. Instead this
# script takes libtensorflow_cc.so.2 + libtensorflow_framework.so.2 and the C
# API headers out of the TensorFlow CPU Python wheel on disk, stages them in
# <pkg>/deps/{lib,include} under the names binding.gyp links against, and
# builds the native addon (lib/napi-v8/tfjs_binding.node) from source with
# node-pre-gyp/node-gyp against Node's local headers. Then it smoke-tests it.
#
# Usage:  bash provision-tfjs-node.sh [PROJECT_DIR]      (default: current dir)
#   Install the npm package first with scripts off, e.g.
#     npm install @tensorflow/tfjs-node@4.22.0 --ignore-scripts   (or npm ci --ignore-scripts)
#   If no tfjs-node package is found under PROJECT_DIR/node_modules the script
#   runs `npm install --ignore-scripts $TFJS_NODE_INSTALL` itself.
# Env (all optional):
#   TF_WHEEL=path            TensorFlow wheel to take libtensorflow from
#                            (default: `pip download $TF_WHEEL_SPEC` into $TFJS_WHEEL_DIR)
#   TF_WHEEL_SPEC=spec       default tensorflow-cpu==2.21.0
#   TFJS_WHEEL_DIR=dir       default ~/.cache/tfjs-node-offline-wheel
#   TFJS_NODE_INSTALL=spec   package to install when none is present
#                            (default @tensorflow/tfjs-node@4.22.0; "none" = don't)
#   TFJS_CACHE_DIR=dir       cache of the extracted libs/headers
#                            (default PROJECT_DIR/node_modules/.cache/tfjs-node-offline;
#                            the package copies are hard links into it, so no extra disk)
#   TFJS_STRIP=0             keep the libs unstripped (default strips .symtab: 788->583 MB)
#   TFJS_FORCE=1             rebuild even if already provisioned
# Exit status: 0 = every tfjs-node package found works; non-zero otherwise.
set -euo pipefail

log()  { printf '[provision-tfjs-node] %s\n' "$*" >&2; }
die()  { printf '[provision-tfjs-node] ERROR: %s\n' "$*" >&2; exit 1; }

PROJECT_DIR=$(cd "${1:-.}" && pwd) || die "project dir '${1:-.}' not found"
cd "$PROJECT_DIR"
START=$(date +%s)

for tool in node npm python3 g++ make nm; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found on PATH (need node, npm, python3, g++, make, binutils)"
done
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || die "only Linux x86_64 is supported (the wheel is manylinux x86_64); this is $(uname -s)-$(uname -m)"

# ---------------------------------------------------------------- the wheel
find_wheel() {
  if [ -n "${TF_WHEEL:-}" ]; then
    [ -f "$TF_WHEEL" ] || die "TF_WHEEL=$TF_WHEEL does not exist"
    printf '%s\n' "$TF_WHEEL"; return
  fi
  # pip's configured package index on these machines serves the TensorFlow CPU wheel.
  local dir="${TFJS_WHEEL_DIR:-$HOME/.cache/tfjs-node-offline-wheel}" w
  mkdir -p "$dir"
  w=$(ls -1 "$dir"/tensorflow_cpu-*-manylinux*_x86_64.whl 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$w" ]; then
    log "fetching the TensorFlow CPU wheel through pip (${TF_WHEEL_SPEC:-tensorflow-cpu==2.21.0})"
    python3 -m pip download "${TF_WHEEL_SPEC:-tensorflow-cpu==2.21.0}" --no-deps --only-binary=:all: -d "$dir" >&2 \
      || die "pip could not fetch ${TF_WHEEL_SPEC:-tensorflow-cpu==2.21.0}; set TF_WHEEL=/path/to/tensorflow_cpu-*.whl"
    w=$(ls -1 "$dir"/tensorflow_cpu-*-manylinux*_x86_64.whl 2>/dev/null | sort -V | tail -1 || true)
  fi
  [ -n "$w" ] || die "no TensorFlow CPU wheel in $dir; set TF_WHEEL=/path/to/tensorflow_cpu-*.whl"
  printf '%s\n' "$w"
}
WHEEL=$(find_wheel)
WHEEL_ID="$(basename "$WHEEL")|$(stat -c '%s|%Y' "$WHEEL")|strip=${TFJS_STRIP:-1}"
CACHE_ROOT=${TFJS_CACHE_DIR:-$PROJECT_DIR/node_modules/.cache/tfjs-node-offline}
CACHE="$CACHE_ROOT/$(basename "$WHEEL" .whl)"
if [ "${TFJS_STRIP:-1}" = 0 ]; then CACHE="$CACHE-nostrip"; fi

extract_wheel() {
  if [ -f "$CACHE/.complete" ] && [ "$(cat "$CACHE/.complete")" = "$WHEEL_ID" ]; then
    log "using cached libtensorflow from $CACHE"; return
  fi
  log "extracting libtensorflow + C headers from $WHEEL (about 10-20 s)"
  mkdir -p "$CACHE_ROOT"
  local tmp; tmp=$(mktemp -d "$CACHE_ROOT/.tmp.XXXXXX")
  python3 - "$WHEEL" "$tmp" <<'PY' || { rm -rf "$tmp"; die "could not extract from $WHEEL"; }
import sys, zipfile, os, shutil
whl, out = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(whl)
names = z.namelist()
libs = {'tensorflow/libtensorflow_cc.so.2': 'lib/libtensorflow_cc.so.2',
        'tensorflow/libtensorflow_framework.so.2': 'lib/libtensorflow_framework.so.2'}
missing = [n for n in libs if n not in names]
if missing:
    sys.exit('wheel lacks %s (need a TF 2.x wheel that ships libtensorflow_cc.so.2)' % ', '.join(missing))
os.makedirs(os.path.join(out, 'lib'))
for src, dst in libs.items():
    with z.open(src) as f, open(os.path.join(out, dst), 'wb') as g:
        shutil.copyfileobj(f, g, 1 << 22)
prefixes = ('tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/platform/',
            'tensorflow/include/tsl/', 'tensorflow/include/xla/tsl/c/')
n = 0
for name in names:
    if name.startswith(prefixes) and name.endswith('.h'):
        dst = os.path.join(out, 'include', name[len('tensorflow/include/'):])
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with z.open(name) as f, open(dst, 'wb') as g:
            shutil.copyfileobj(f, g)
        n += 1
if not os.path.exists(os.path.join(out, 'include/tensorflow/c/eager/c_api.h')):
    sys.exit('wheel lacks tensorflow/include/tensorflow/c/eager/c_api.h')
print('extracted %d headers' % n, file=sys.stderr)
PY
  # The C and eager C API must be exported by the libs (they are, from libtensorflow_cc, since TF 2.x).
  local sym exported
  exported=$(nm -D --defined-only "$tmp/lib/libtensorflow_cc.so.2" "$tmp/lib/libtensorflow_framework.so.2" 2>/dev/null \
             | awk '$2 == "T" && $3 ~ /^TFE?_/ {sub(/@.*/, "", $3); print $3}' | sort -u || true)
  for sym in TFE_Execute TFE_NewContext TFE_NewOp TF_LoadSessionFromSavedModel TF_Version; do
    grep -qx "$sym" <<<"$exported" || { rm -rf "$tmp"; die "$sym is not exported by the wheel's libtensorflow_cc/framework: this wheel cannot back tfjs-node"; }
  done
  if [ "${TFJS_STRIP:-1}" != 0 ] && command -v strip >/dev/null; then
    strip --strip-unneeded "$tmp/lib/libtensorflow_cc.so.2" "$tmp/lib/libtensorflow_framework.so.2" \
      || log "warning: strip failed, keeping unstripped libs"
  fi
  chmod 755 "$tmp"/lib/*.so.2
  rm -rf "$CACHE"; mv "$tmp" "$CACHE"
  printf '%s' "$WHEEL_ID" > "$CACHE/.complete"
}

# ---------------------------------------------------------- the npm packages
find_pkgs() {
  [ -d node_modules ] || return 0
  find -L node_modules -maxdepth 6 -type f -name binding.gyp \
       \( -path '*/@tensorflow/tfjs-node/binding.gyp' -o -path '*/@tensorflow/tfjs-node-gpu/binding.gyp' \) \
       2>/dev/null | xargs -r -n1 dirname | sort -u
}
PKGS=$(find_pkgs)
if [ -z "$PKGS" ]; then
  spec=${TFJS_NODE_INSTALL:-@tensorflow/tfjs-node@4.22.0}
  [ "$spec" != none ] || die "no @tensorflow/tfjs-node(-gpu) under $PROJECT_DIR/node_modules (TFJS_NODE_INSTALL=none)"
  log "no tfjs-node package found; running: npm install --ignore-scripts $spec"
  npm install --ignore-scripts --no-audit --no-fund "$spec" >&2 || die "npm install --ignore-scripts $spec failed"
  PKGS=$(find_pkgs)
  [ -n "$PKGS" ] || die "npm install of $spec left no @tensorflow/tfjs-node(-gpu) with binding.gyp in node_modules"
fi

# node-gyp must not try to download Node headers: point it at the local ones.
if [ -z "${npm_config_nodedir:-}" ]; then
  NODE_PREFIX=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  for d in "$(npm config get nodedir 2>/dev/null || true)" "$NODE_PREFIX" /usr /usr/local; do
    if [ -n "$d" ] && [ "$d" != undefined ] && [ "$d" != null ] && [ -f "$d/include/node/common.gypi" ]; then
      export npm_config_nodedir="$d"; break
    fi
  done
fi
if [ -z "${npm_config_nodedir:-}" ] && ! ls "$HOME"/.cache/node-gyp/"$(node -p process.versions.node)"/include/node/node_api.h >/dev/null 2>&1; then
  die "no local Node.js headers (include/node/common.gypi) found; node-gyp would have to download them. Set npm_config_nodedir=<prefix with include/node>"
fi

smoke() { # $1 = package dir
  (cd "$PROJECT_DIR" && TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2} node -e '
    const tf = require(process.argv[1]);
    if (tf.getBackend() !== "tensorflow") throw new Error("backend is " + tf.getBackend());
    const s = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).sum().dataSync()[0];
    const k = tf.topk(tf.tensor1d([1, 5, 3]), 1).values.dataSync()[0];
    const g = tf.grad(x => x.square().sum())(tf.tensor1d([1, 2])).dataSync();
    if (s !== 12 || k !== 5 || g[0] !== 2 || g[1] !== 4) throw new Error("wrong results " + [s, k, g]);
    console.log("ok: " + require(process.argv[1] + "/package.json").name + " on libtensorflow " + tf.backend().binding.TF_Version);
  ' "$1")
}

extract_wheel
FAILED=0
mapfile -t PKG_LIST <<<"$PKGS"
DEPS_DIRS=()
for PKG in "${PKG_LIST[@]}"; do
  PKG=$(cd "$PKG" && pwd)
  DEPS_DIRS+=("$PKG/deps")
  NAME=$(node -p 'const p=require(process.argv[1]+"/package.json"); p.name+"@"+p.version' "$PKG")
  STAMP="$WHEEL_ID|node-abi=$(node -p process.versions.napi)|$NAME"
  ADDON=$(ls "$PKG"/lib/napi-v*/tfjs_binding.node 2>/dev/null | head -1 || true)
  if [ "${TFJS_FORCE:-0}" != 1 ] && [ -n "$ADDON" ] && [ -f "$PKG/deps/.offline-provisioned" ] \
     && [ "$(cat "$PKG/deps/.offline-provisioned")" = "$STAMP" ] && out=$(smoke "$PKG" 2>&1); then
    log "$NAME already provisioned ($(echo "$out" | tail -1))"; continue
  fi
  case "$NAME" in @tensorflow/tfjs-node@4.*|@tensorflow/tfjs-node-gpu@4.*) ;;
    *) log "warning: $NAME is not a 4.x release; trying anyway";; esac
  log "provisioning $NAME in $PKG"
  rm -rf "$PKG/deps" "$PKG/build" "$PKG"/lib/napi-v*
  mkdir -p "$PKG/deps/lib"
  for f in libtensorflow_cc.so.2 libtensorflow_framework.so.2; do   # hard link from the cache, else copy
    ln -f "$CACHE/lib/$f" "$PKG/deps/lib/$f" 2>/dev/null || cp -f "$CACHE/lib/$f" "$PKG/deps/lib/$f"
  done
  # Names binding.gyp (-ltensorflow -ltensorflow_framework) and scripts/install.js look for.
  # The addon ends up NEEDing libtensorflow_cc.so.2 (its SONAME), found via rpath $ORIGIN/../../deps/lib.
  ( cd "$PKG/deps/lib"
    for n in libtensorflow.so libtensorflow.so.2 libtensorflow.so.2.9.1; do ln -sfn libtensorflow_cc.so.2 "$n"; done
    for n in libtensorflow_framework.so libtensorflow_framework.so.2.9.1; do ln -sfn libtensorflow_framework.so.2 "$n"; done )
  cp -R "$CACHE/include" "$PKG/deps/include"
  NPG=$(cd "$PKG" && node -p "require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp')" 2>/dev/null) \
    || { log "$NAME: @mapbox/node-pre-gyp (a dependency of the package) is not installed"; FAILED=1; continue; }
  BUILD_LOG="$PKG/deps/build.log"
  log "building tfjs_binding.node (node-gyp, nodedir=${npm_config_nodedir:-~/.cache/node-gyp}); log: $BUILD_LOG"
  if ! (cd "$PKG" && node "$NPG" install --build-from-source) > "$BUILD_LOG" 2>&1; then
    tail -25 "$BUILD_LOG" >&2
    log "$NAME: native addon build FAILED (full log: $BUILD_LOG)"; FAILED=1; continue
  fi
  # tfjs-node-gpu's npm install script is 'install.js gpu download', which wipes deps/ and
  # re-downloads on any later `npm rebuild`; drop the forced download so a rebuild keeps this build.
  if grep -q '"node scripts/install.js gpu download"' "$PKG/package.json"; then
    sed -i 's#"node scripts/install.js gpu download"#"node scripts/install.js gpu"#' "$PKG/package.json"
    log "$NAME: patched its install script to 'node scripts/install.js gpu' (no forced download on npm rebuild)"
  fi
  if out=$(smoke "$PKG" 2>&1); then
    printf '%s' "$STAMP" > "$PKG/deps/.offline-provisioned"
    log "$NAME works: $(echo "$out" | tail -1)"
  else
    echo "$out" | grep -v -E '^(I0000|WARNING: All log|To enable the following)' | tail -20 >&2
    log "$NAME: addon built but the smoke test FAILED"; FAILED=1
  fi
done
log "done in $(( $(date +%s) - START )) s; deps size: $(du -sh "${DEPS_DIRS[@]}" 2>/dev/null | awk '{print $1}' | paste -sd' ')"
[ "$FAILED" = 0 ] || die "one or more tfjs-node packages could not be made to work offline (see above)"
