#!/usr/bin/env bash
# Development setup on Debian/Ubuntu, from a clone: the Debian packages the C++ tests need, a venv in
# .venv, CPU torch, then act-edge editable with its export, dev, plot and replay extras. The README's
# Quickstart and .ci/run both start with this script. Re-running it skips what is already there.
#
#   bash tools/setup.sh            # then: . .venv/bin/activate
#
# Environment: PYTHON (default python3) makes the venv; VENV (default .venv) is where it goes;
# TORCH_VERSION (default 2.13.0) is the torch pinned for export parity.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu

say() { echo "setup: $*"; }

# --- Debian/Ubuntu packages ---------------------------------------------------------------------
# cmake, make, g++, nlohmann-json3-dev, pybind11-dev, catch2 (v2 or v3) build and test cpp_bindings
# (make explicitly: cmake only recommends it, and recommends are not installed here);
# python3-dev: the pybind11 module (tests/test_cpp_bindings.py); python3-venv: `python3 -m venv`
# on Ubuntu. libbenchmark-dev is optional (bench/ensemble_bench only).
REQUIRED="cmake make g++ python3-venv python3-dev nlohmann-json3-dev pybind11-dev catch2"
OPTIONAL="libbenchmark-dev"
if command -v dpkg >/dev/null && command -v apt-get >/dev/null; then
    missing=""
    for p in $REQUIRED $OPTIONAL; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        SUDO=""
        if [ "$(id -u)" != 0 ]; then
            command -v sudo >/dev/null || { say "not root and no sudo: install as root:$missing"; exit 1; }
            SUDO=sudo
        fi
        say "apt-get install$missing"
        $SUDO apt-get update -qq
        want=""
        for p in $missing; do
            case " $OPTIONAL " in
                *" $p "*) apt-cache show "$p" >/dev/null 2>&1 && want="$want $p" \
                              || say "optional $p not available: bench/ensemble_bench will be skipped" ;;
                *) want="$want $p" ;;
            esac
        done
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $want >/dev/null
    else
        say "Debian packages present:$(printf ' %s' $REQUIRED $OPTIONAL)"
    fi
else
    say "no apt-get here: install cmake, g++, Python headers, nlohmann-json, pybind11, Catch2 yourself"
fi

# --- venv ------------------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $($PYTHON -V 2>&1)"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi
PIP="$VENV/bin/python -m pip"

# --- torch, CPU build ------------------------------------------------------------------------------
# PyPI's Linux x86 torch wheel is the CUDA build (GBs of CUDA wheels); the CPU build comes from
# PyTorch's own index. Where that index cannot be reached (a mirror of PyPI only), the plain pin.
if "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('torch').split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    say "torch $TORCH_VERSION already in $VENV"
else
    if "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('$TORCH_CPU_INDEX/torch/', timeout=10)" 2>/dev/null; then
        if $PIP install -q --timeout 30 --index-url "$TORCH_CPU_INDEX" "torch==$TORCH_VERSION"; then
            took="PyTorch's CPU index ($TORCH_CPU_INDEX)"
        else
            took="the configured index (installing from PyTorch's CPU index failed)"
            $PIP install -q "torch==$TORCH_VERSION"
        fi
    else
        took="the configured index (PyTorch's CPU index $TORCH_CPU_INDEX is not reachable from here)"
        $PIP install -q "torch==$TORCH_VERSION"
    fi
    say "torch $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))') from $took"
fi

# --- act-edge ----------------------------------------------------------------------------------------
$PIP install -q -e ".[export,dev,plot,replay]"
say "done: . $VENV/bin/activate; the tests: $VENV/bin/python -m pytest"
