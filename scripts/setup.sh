#!/bin/sh
# Creates the virtual environment and installs the pinned requirements.
# Re-running is cheap: pip is skipped while requirements files are unchanged.
set -eu
PYTHON="${PYTHON:-python3.11}"
VENV="${VENV:-.venv}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    PYTHON=python3
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version 2>&1))." >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi

stamp="$VENV/.requirements.sha256"
wanted="$(cat requirements.txt localcloud/requirements.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "setup: installing requirements (first run takes about a minute)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
    echo "$wanted" > "$stamp"
fi
