"""ros2_control_node (simulated FR3 hardware and controllers) and spawner."""
