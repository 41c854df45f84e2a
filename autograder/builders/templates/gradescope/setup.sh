#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image, from the
# folder the bundle was unzipped into (/autograder/source). The kit needs Python 3.11
# or newer (numpy @@NUMPY@@) with the venv module; the base image decides what it has:
#
#   - Ubuntu 24.04: python3 is 3.12, but without venv/ensurepip: apt-get installs
#     python3.12-venv;
#   - Ubuntu 22.04: python3 is 3.10: uv (@@UV_PIN@@, from PyPI) installs a standalone
#     CPython @@UV_PYTHON@@ under $AUTOGRADER_ROOT/python, readable by the sandbox's user;
#   - any image with a usable Python 3.11+ already: it is used as it is.
#
# Environment (defaults in brackets), overridable so that tests can simulate /autograder:
#   AUTOGRADER_ROOT        the Gradescope root [/autograder]
#   AUTOGRADER_VENV        the virtual environment to create or reuse [$AUTOGRADER_ROOT/venv]
#   AUTOGRADER_REUSE_VENV  1: the venv exists with the dependencies installed; skip creating and installing
#   TORCH_INDEX            where torch comes from [PyTorch's CPU-only index]
set -euo pipefail
shopt -s inherit_errexit  # a failing step inside $(...) fails the script too

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="${AUTOGRADER_VENV:-$ROOT/venv}"
TORCH_INDEX="${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
PIP_OPTIONS=(--quiet --disable-pip-version-check)
UV_PIN="@@UV_PIN@@"
UV_PYTHON="@@UV_PYTHON@@"

usable_python() {
    "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && usable_python "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# Ubuntu splits venv and ensurepip off into pythonX.Y-venv: install it for a Python 3.11+ that lacks it.
add_venv_with_apt() {
    local candidate version
    command -v apt-get >/dev/null 2>&1 || return 1
    for candidate in python3.13 python3.12 python3.11 python3; do
        command -v "$candidate" >/dev/null 2>&1 || continue
        version="$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2]) if sys.version_info >= (3, 11) else None' 2>/dev/null)" || continue
        [ "$version" = None ] && continue
        echo "setup.sh: installing python$version-venv for $candidate"
        apt-get update -q || return 1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "python$version-venv" || return 1
        return 0
    done
    return 1
}

# No Python 3.11+ at all (Ubuntu 22.04): a standalone CPython from uv, where the sandbox's user can run it.
python_from_uv() {
    local tools="$ROOT/uv"
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-pip >&2
    fi
    python3 -m pip install "${PIP_OPTIONS[@]}" --target "$tools" "$UV_PIN" >&2
    UV_PYTHON_INSTALL_DIR="$ROOT/python" "$tools/bin/uv" python install --no-bin "$UV_PYTHON" >&2
    chmod -R a+rX "$ROOT/python"
    UV_PYTHON_INSTALL_DIR="$ROOT/python" "$tools/bin/uv" python find --managed-python "$UV_PYTHON"
}

if [ "${AUTOGRADER_REUSE_VENV:-0}" = 1 ]; then
    if [ ! -x "$VENV/bin/python" ]; then
        echo "setup.sh: AUTOGRADER_REUSE_VENV=1 but $VENV/bin/python does not exist" >&2
        exit 1
    fi
    echo "setup.sh: reusing $VENV; its dependencies are assumed installed"
else
    if ! PYTHON="$(find_python)"; then
        if add_venv_with_apt && PYTHON="$(find_python)"; then
            :
        else
            echo "setup.sh: no Python 3.11 or newer with venv here; installing CPython $UV_PYTHON with uv"
            PYTHON="$(python_from_uv)"
            usable_python "$PYTHON" || { echo "setup.sh: $PYTHON from uv cannot create a venv" >&2; exit 1; }
        fi
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

"$VENV/bin/python" -c 'import numpy, torch, pytest, autograder.core.assignments' \
    || { echo "setup.sh: the environment in $VENV is incomplete" >&2; exit 1; }
echo "setup.sh: done; the autograder grades the assignment '@@ASSIGNMENT@@'"
