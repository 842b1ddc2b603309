"""franka_gripper_node with the Homing/Move/Grasp actions and the stop service on the simulated hand."""
