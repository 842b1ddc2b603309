#!/usr/bin/env bash
# Sets up everything the stack needs in ./.venv, from nothing, unattended. Idempotent: a
# re-run with nothing changed finishes in seconds (a stamp file records what was installed).
#
#   scripts/setup.sh            # runtime + dev tools + gr1_msgs + the workspace packages
#   GR1_PYTHON=python3.11 scripts/setup.sh   # choose the interpreter (3.10-3.12; 3.11 tested)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GR1_VENV:-$ROOT/.venv}"
PY="${GR1_PYTHON:-python3}"
cd "$ROOT"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

command -v cmake >/dev/null || die "cmake not found: install it (Debian: apt-get install cmake g++)"
command -v g++ >/dev/null || die "g++ not found: install it (Debian: apt-get install g++)"

# --- 1. virtual environment ------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip -q --disable-pip-version-check)

# --- 2. Python dependencies (skipped when the requirement files did not change) --------
REQ_HASH=$(cat requirements/*.txt | sha256sum | cut -c1-16)
STAMP="$VENV/.gr1-requirements-$REQ_HASH"
if [ ! -f "$STAMP" ]; then
  log "installing pinned dependencies (torch CPU build, ROS 2 Jazzy wheels, MuJoCo, ONNX Runtime)"
  "${PIP[@]}" install --upgrade pip wheel setuptools
  # One resolver pass for everything, so nothing can pull a different torch.
  "${PIP[@]}" install -r requirements/base.txt -r requirements/ros-jazzy.txt -r requirements/dev.txt
  "${PIP[@]}" install --no-deps -r requirements/nodeps.txt
  rm -f "$VENV"/.gr1-requirements-*
  touch "$STAMP"
else
  log "dependencies up to date"
fi

# --- 3. gr1_msgs, built with the real rosidl toolchain into the environment's prefix ----
"$ROOT/scripts/build_msgs.sh" "$VENV"

# --- 4. the workspace's Python packages, editable so that console scripts work ---------
PKG_HASH=$(cat ros2_ws/src/*/setup.py 2>/dev/null | sha256sum | cut -c1-16)
PKG_STAMP="$VENV/.gr1-packages-$PKG_HASH"
if [ ! -f "$PKG_STAMP" ]; then
  log "installing workspace packages (editable)"
  args=()
  for pkg in ros2_ws/src/*/setup.py; do args+=(-e "$(dirname "$pkg")"); done
  "${PIP[@]}" install --no-deps --no-build-isolation "${args[@]}"
  rm -f "$VENV"/.gr1-packages-*
  touch "$PKG_STAMP"
else
  log "workspace packages up to date"
fi

log "ready: $VENV (activate with: source $VENV/bin/activate)"
