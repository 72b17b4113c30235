#!/usr/bin/env bash
# Runs the whole test suite headless: a real X server (Xvfb) with Mesa OpenGL.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=xcb
export PYTHONUNBUFFERED=1
exec xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX +render -noreset" \
  .venv/bin/python -m pytest "$@"
