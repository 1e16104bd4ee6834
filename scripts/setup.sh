#!/usr/bin/env bash
# Create .venv (if missing) and install chainrule with its test extra.
# torch==2.13.0 is installed first: on these machines pip finds a CPU build on local disk, so nothing large downloads.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null
if [ "${1:-}" = "--test" ]; then
  python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
  python -m pip install -q -e ".[test,lessons]"
  # the lesson notebooks run on a kernel of this environment (registered inside .venv only)
  python -m ipykernel install --sys-prefix --name python3 >/dev/null
else
  python -m pip install -q -e .
fi
