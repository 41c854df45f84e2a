#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image, from the
# folder the bundle was unzipped into (/autograder/source). The base image is Ubuntu
# with python3 and internet access; choose Ubuntu 24.04 (Python 3.12) in the
# autograder settings, since numpy @@NUMPY@@ needs Python 3.11 or newer.
#
# Environment (defaults in brackets), overridable so that tests can simulate /autograder:
#   AUTOGRADER_ROOT        the Gradescope root [/autograder]
#   AUTOGRADER_VENV        the virtual environment to create or reuse [$AUTOGRADER_ROOT/venv]
#   AUTOGRADER_REUSE_VENV  1: the venv exists with the dependencies installed; skip creating and installing
#   TORCH_INDEX            where torch comes from [PyTorch's CPU-only index]
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="${AUTOGRADER_VENV:-$ROOT/venv}"
TORCH_INDEX="${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
PIP_OPTIONS=(--quiet --disable-pip-version-check)

find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if [ "${AUTOGRADER_REUSE_VENV:-0}" = 1 ]; then
    if [ ! -x "$VENV/bin/python" ]; then
        echo "setup.sh: AUTOGRADER_REUSE_VENV=1 but $VENV/bin/python does not exist" >&2
        exit 1
    fi
    echo "setup.sh: reusing $VENV; its dependencies are assumed installed"
else
    if ! PYTHON="$(find_python)"; then
        # Older images (Ubuntu 22.04) ship Python 3.10 only, and no venv module.
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3.11 python3.11-venv
        PYTHON="$(find_python)"
    fi
    echo "setup.sh: creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
    # torch alone from the CPU-only index first, so that pip does not pull the
    # multi-GB CUDA build from PyPI; --no-deps because the lock pins its dependencies.
    "$VENV/bin/python" -m pip install "${PIP_OPTIONS[@]}" --no-deps --index-url "$TORCH_INDEX" \
        "$(grep -E '^torch==' "$SOURCE/requirements.lock")"
    "$VENV/bin/python" -m pip install "${PIP_OPTIONS[@]}" -r "$SOURCE/requirements.lock"
fi

# The kit itself, editable, so that KIT_ROOT is $SOURCE and the pytest plugin is registered.
"$VENV/bin/python" -m pip install "${PIP_OPTIONS[@]}" --no-deps --no-build-isolation -e "$SOURCE"

# The sandbox runs student code as an unprivileged user, who must be able to run the
# interpreter and read the engine, but never the reference solutions or hidden tests.
chmod a+rx "$ROOT"
chmod -R a+rX "$VENV" "$SOURCE"
chmod -R go-rwx "$SOURCE/reference"

"$VENV/bin/python" -c 'import numpy, torch, pytest, autograder.assignments' \
    || { echo "setup.sh: the environment in $VENV is incomplete" >&2; exit 1; }
echo "setup.sh: done; the autograder grades the assignment '@@ASSIGNMENT@@'"
