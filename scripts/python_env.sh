#!/usr/bin/env bash
# Makes (or reuses) the Python venv the interop tests run in: torch (CPU),
# transformers and safetensors at the versions below, installed with pip from
# its configured package mirrors (no other network), then prints the venv's
# python path as its last line.
#
#   bash scripts/python_env.sh            # venv at $SLUICE_VENV or ~/.cache/sluice-venv
#   SLUICE_VENV=/some/dir bash scripts/python_env.sh
#   bash scripts/python_env.sh --check    # install nothing: print the python path if the venv is
#                                         # ready, else say why on stderr and exit 4
#
# A venv is reused when its marker file records the same requirements; a
# half-made one (no marker: an interrupted install) is removed and made again.
# Concurrent callers (several worktrees on one machine) wait on a lock.
set -euo pipefail

REQUIREMENTS=(torch==2.13.* transformers==5.17.* safetensors==0.8.* numpy)
VENV=${SLUICE_VENV:-$HOME/.cache/sluice-venv}
MARKER="$VENV/.sluice-requirements"
PYTHON=${SLUICE_PYTHON:-$(command -v python3 || true)}
want="${REQUIREMENTS[*]}"

ready() { [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$want" ] && [ -x "$VENV/bin/python" ]; }
if [ "${1:-}" = "--check" ]; then
  if ready; then echo "$VENV/bin/python"; exit 0; fi
  if [ -d "$VENV" ]; then
    echo "the venv $VENV is incomplete or for other requirements than: $want (run bash scripts/python_env.sh)" >&2
  else
    echo "no Python venv at $VENV (make it with: bash scripts/python_env.sh; it needs python3 and pip's mirrors)" >&2
  fi
  exit 4
fi

if [ -z "$PYTHON" ]; then
  echo "python_env: no python3 on PATH (set SLUICE_PYTHON)" >&2
  exit 3
fi
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9

if ready; then
  echo "python_env: reusing $VENV ($want)" >&2
  echo "$VENV/bin/python"
  exit 0
fi

started=$(date +%s)
rm -rf "$VENV"
echo "python_env: creating $VENV with $("$PYTHON" --version 2>&1)" >&2
"$PYTHON" -m venv "$VENV"
# --retries 0: the mirrors are local; a missing package should fail at once, not after minutes of retries.
"$VENV/bin/python" -m pip install --retries 0 --no-input --disable-pip-version-check -q "${REQUIREMENTS[@]}" >&2
"$VENV/bin/python" - >&2 <<'PY'
import safetensors, torch, transformers
print(f"python_env: torch {torch.__version__}, transformers {transformers.__version__}, "
      f"safetensors {safetensors.__version__}")
PY
echo "$want" >"$MARKER"
echo "python_env: venv made in $(( $(date +%s) - started )) s" >&2
echo "$VENV/bin/python"
