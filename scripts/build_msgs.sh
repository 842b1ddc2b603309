#!/usr/bin/env bash
# Builds ros2_ws/src/gr1_msgs with CMake + rosidl against the ROS 2 wheels in a virtual
# environment, and installs it into that environment's prefix (where rclpy finds the
# generated type support without any PYTHONPATH or LD_LIBRARY_PATH juggling).
# Skipped when the interface files did not change since the last build.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$(cd "${1:-$ROOT/.venv}" && pwd)"
VPY="$VENV/bin/python"
SRC="$ROOT/ros2_ws/src/gr1_msgs"
BUILD="$ROOT/build/gr1_msgs"

HASH=$(cd "$SRC" && cat CMakeLists.txt package.xml msg/*.msg srv/*.srv action/*.action | sha256sum | cut -c1-16)
STAMP="$VENV/.gr1-msgs-$HASH"
if [ -f "$STAMP" ] && "$VPY" -c "import gr1_msgs.msg" 2>/dev/null; then
  echo "[setup] gr1_msgs up to date"
  exit 0
fi
echo "[setup] building gr1_msgs (rosidl, about 20-60 s)"

# Some CMake exports inside the wheels name the wheel builder's Python and numpy include
# directories (/opt/python/cpXY-cpXY/...); point them at this environment's.
PYINC=$("$VPY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
NPINC=$("$VPY" -c "import numpy; print(numpy.get_include())")
# (grep finds nothing once rewritten: that must not stop a rebuild under pipefail.)
{ grep -rlE "/opt/python/cp[0-9]+-cp[0-9]+/" "$VENV/share" --include='*.cmake' 2>/dev/null || true; } \
  | xargs -r sed -i -E \
      -e "s#/opt/python/cp[0-9]+-cp[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$NPINC#g" \
      -e "s#/opt/python/cp[0-9]+-cp[0-9]+/include/python3\.[0-9]+#$PYINC#g"

export AMENT_PREFIX_PATH="$VENV"
export CMAKE_PREFIX_PATH="$VENV"
export PATH="$VENV/bin:$PATH"
rm -rf "$BUILD"
mkdir -p "$BUILD"
# The wheels' bootstrapper re-executes Python with the ROS library path; the generators
# run Python from CMake, so give them the same environment.
LD_LIBRARY_PATH="$VENV/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
cmake -S "$SRC" -B "$BUILD" -DCMAKE_INSTALL_PREFIX="$VENV" -DCMAKE_BUILD_TYPE=Release \
  -DPython3_EXECUTABLE="$VPY" -DPYTHON_EXECUTABLE="$VPY" -DBUILD_TESTING=OFF \
  -Wno-dev > "$BUILD/configure.log" 2>&1 || { tail -40 "$BUILD/configure.log"; exit 1; }
LD_LIBRARY_PATH="$VENV/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
cmake --build "$BUILD" -j "$(nproc)" > "$BUILD/build.log" 2>&1 || { tail -40 "$BUILD/build.log"; exit 1; }
cmake --install "$BUILD" > "$BUILD/install.log" 2>&1 || { tail -40 "$BUILD/install.log"; exit 1; }

"$VPY" -c "from gr1_msgs.msg import PolicyStatus, GripperCommand, PolicyAction; from gr1_msgs.srv import SetInstruction; from gr1_msgs.action import RunInstruction" \
  || { echo "[setup] gr1_msgs built but does not import"; exit 1; }
rm -f "$VENV"/.gr1-msgs-*
touch "$STAMP"
echo "[setup] gr1_msgs installed into $VENV"
