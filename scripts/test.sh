#!/usr/bin/env bash
# The README's test command: set up (idempotent), lint, type-check, then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy  # [tool.mypy] in pyproject.toml: src/, graded per package
.venv/bin/pytest "$@"
