#!/usr/bin/env bash
# Set up the same environment (first run only) and run the whole test suite.
# Extra arguments go to pytest, e.g. ./test.sh -k video -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/bootstrap.sh
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
exec .venv/bin/python -m pytest "$@"
