#!/usr/bin/env bash
# Set up the environment (first run only) and open GenProp Studio with the sample clip.
# Extra arguments go to the app, e.g. ./run.sh my_clip.mp4 or ./run.sh info my_clip.mp4
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/bootstrap.sh
exec .venv/bin/python main.py "$@"
