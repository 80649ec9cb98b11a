#!/usr/bin/env bash
# Create or refresh the project's virtual environment (.venv). Idempotent: when the
# pinned requirements have not changed since the last run, it returns at once.
# Order matters: torch first (the registry's CUDA build, which also runs on CPU-only
# machines), then everything else, then sam2 built without isolation against that torch.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=${GENPROP_VENV:-.venv}
python=${PYTHON:-python3}
stamp="$venv/.genprop-requirements"
want=$(cat requirements/*.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "GenProp Studio needs Python 3.10 or newer; $python is $("$python" --version 2>&1)" >&2
    exit 1
fi
echo "Setting up $venv (first time: about 4 GB of downloads, a few minutes)…"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip() { "$venv/bin/python" -m pip --disable-pip-version-check "$@"; }
pip install -q --upgrade pip setuptools wheel
pip install -q -r requirements/torch.txt
pip install -q -r requirements/app.txt -r requirements/dev.txt
SAM2_BUILD_CUDA=0 pip install -q --no-build-isolation -r requirements/sam2.txt
pip install -q --no-deps --no-build-isolation -e .
"$venv/bin/python" -c "import torch, torchvision, sam2, PySide6, cv2, av, diffusers" \
    || { echo "the environment in $venv does not import; see the messages above" >&2; exit 1; }
echo "$want" > "$stamp"
echo "Environment ready: $venv"
