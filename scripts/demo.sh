#!/usr/bin/env bash
# The demo command: set up .venv (runtime dependencies only) and run the seed's worked example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
chainrule demo "$@"
