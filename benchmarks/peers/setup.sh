#!/usr/bin/env bash
# Create benchmarks/peers/.venv (git-ignored) with PyMC-Marketing 1.3 and nutpie, for the
# side-by-side part of benchmarks/fit_recovery.py. PyMC-Marketing 1.3 needs Python >= 3.12.
#
#   bash benchmarks/peers/setup.sh            # uses $PYTHON, else python3.12 on PATH or pyenv's
#
# Idempotent: re-running upgrades nothing that already satisfies the pins.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${PYTHON:-}"
if [[ -z "$py" ]]; then
  for cand in python3.13 python3.12 "$HOME/.pyenv/versions/3.12.1/bin/python3.12"; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      py="$cand"; break
    fi
  done
  if [[ -z "$py" ]]; then
    for cand in "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3; do
      [[ -x "$cand" ]] && py="$cand" && break
    done
  fi
fi
if [[ -z "$py" ]]; then
  echo "setup.sh: no Python >= 3.12 found (set PYTHON=/path/to/python3.12); PyMC-Marketing 1.3 needs it" >&2
  exit 1
fi
echo "setup.sh: creating $here/.venv with $("$py" --version)" >&2
"$py" -m venv "$here/.venv"
"$here/.venv/bin/python" -m pip install --quiet --upgrade pip
"$here/.venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
"$here/.venv/bin/python" -c 'import pymc_marketing, nutpie, pymc; print("pymc-marketing", pymc_marketing.__version__, "pymc", pymc.__version__, "nutpie", nutpie.__version__)'
