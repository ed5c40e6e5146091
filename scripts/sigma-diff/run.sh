#!/usr/bin/env bash
# Regenerate crates/sigma/tests/fixtures/pysigma/ from pySigma's SQLite backend, then, when a
# stormwatch binary is given (STORMWATCH=path/to/stormwatch), compare stormwatch with them.
# Usage: scripts/sigma-diff/run.sh [RULE.yml ...]
# SIGMA_VENV (default /work/venv-sigma) is created and filled from requirements.txt if missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${SIGMA_VENV:-/work/venv-sigma}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r "$here/requirements.txt"
fi
cd "$here"
"$venv/bin/python" "$here/diff.py" "$@"
if [ -n "${STORMWATCH:-}" ]; then
    "$venv/bin/python" "$here/compare.py" "$STORMWATCH"
fi
