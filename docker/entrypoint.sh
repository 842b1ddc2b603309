#!/usr/bin/env bash
# Sources ROS 2, franka_ros2 and the gr1 workspace, then runs the given command.
set -e
source "/opt/ros/${ROS_DISTRO:-jazzy}/setup.bash"
source /opt/franka_ws/install/setup.bash
source /opt/gr1/install/setup.bash
export PATH="/opt/gr1/venv/bin:${PATH}"
exec "$@"
