#!/usr/bin/env bash
# The test command: set up .venv with the test extra, lint, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
. .venv/bin/activate
ruff check src tests benchmarks
python -m pytest "$@"
