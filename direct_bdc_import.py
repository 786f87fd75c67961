#!/usr/bin/env python3
"""The design document's entry point: the same code as `sonar-bdc import`.

Runs with any python3: when sonar_bdc is not importable, it re-executes itself with
the project's .venv (created by the README's setup command).
"""

import os
import sys
from pathlib import Path

try:
    from sonar_bdc.cli import main
except ImportError:
    venv = Path(__file__).resolve().parent / ".venv"
    venv_python = venv / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != venv.resolve():
        os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])
    sys.exit("direct_bdc_import.py: sonar_bdc is not installed; run ./scripts/setup.sh first")

if __name__ == "__main__":
    sys.exit(main(["import", *sys.argv[1:]]))
