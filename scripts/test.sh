#!/usr/bin/env bash
# The README's test command: set up (idempotent), lint, then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/pytest "$@"
