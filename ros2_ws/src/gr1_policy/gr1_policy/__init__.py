"""ROS 2 adapters of gr1-ros: thin nodes over the pure gr1_core."""
