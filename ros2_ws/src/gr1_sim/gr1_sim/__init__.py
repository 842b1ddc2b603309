"""gr1_sim: MuJoCo Panda tabletop simulator and its ROS 2 bridge.

`gr1_sim.scene`, `gr1_sim.model`, `gr1_sim.servo_gate` and `gr1_sim.rotations` never import
rclpy; `gr1_sim.bridge_node` is the ROS adapter.
"""
