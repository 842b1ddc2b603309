"""gr1_sim: MuJoCo Panda tabletop simulator and its ROS 2 bridge.

`gr1_sim.scene`, `gr1_sim.model`, and `gr1_sim.servo_gate` never import
rclpy; `gr1_sim.bridge_node` is the ROS adapter.
"""

import os

# MuJoCo picks its OpenGL platform when it is first imported. The simulator renders offscreen
# only, and GLFW (MuJoCo's default) needs a display, so default to EGL; set MUJOCO_GL=osmesa or
# glfw before starting to choose otherwise.
os.environ.setdefault("MUJOCO_GL", "egl")
