#!/usr/bin/env bash
# `make test`: ruff, then the whole suite, after the ROS 2 tooling (scripts/ros_tools.sh).
#
# The tooling's first build (the robot interfaces: about 7 minutes on two cores) is mostly
# single-threaded code generation, and the ROS-free tests (tests/core, tests/sim: the model,
# data, training and simulator) need none of it. So on a set-up that still has to build it, they
# run meanwhile, the build at lower priority on the core they leave idle, and the graph tests
# (tests/ros, tests/launch, the CLI tests) after it. With the tooling already built, or with test
# paths in PYTEST_ARGS, it is one pytest run after scripts/ros_tools.sh, as before.
#   PYTEST_ARGS="..."   passed to pytest (both runs)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY=${VENV:-.venv}/bin/python
read -r -a ARGS <<< "${PYTEST_ARGS:-}"
log() { printf '\033[1;34m[test]\033[0m %s\n' "$*"; }

${VENV:-.venv}/bin/ruff check . || exit 1

split=1
for a in "${ARGS[@]}"; do [[ $a == tests* ]] && split=0; done
[ -f build/ros-env.sh ] && [ -f build/ros2-interfaces/.ros2-interfaces-kit ] && split=0
if [ "$split" = 0 ]; then
  scripts/ros_tools.sh || exit 1
  exec "$PY" -m pytest "${ARGS[@]}"
fi

mkdir -p build
log "building the ROS 2 tooling (log: build/ros-tools.log) while the ROS-free tests run"
nice -n 10 scripts/ros_tools.sh > build/ros-tools.log 2>&1 &
tools=$!
"$PY" -m pytest tests/core tests/sim "${ARGS[@]}"
core=$?
log "ROS-free tests: exit $core; waiting for the ROS 2 tooling"
if ! wait "$tools"; then
  tail -40 build/ros-tools.log >&2
  log "scripts/ros_tools.sh failed (log: build/ros-tools.log)"
  exit 1
fi
cat build/ros-tools.log
"$PY" -m pytest tests --ignore=tests/core --ignore=tests/sim "${ARGS[@]}"
graph=$?
log "ROS-free tests: exit $core; graph tests: exit $graph"
[ "$core" = 0 ] && [ "$graph" = 0 ]
