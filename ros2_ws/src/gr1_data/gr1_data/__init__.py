"""Recording demonstrations (ROS side); reading and training live in gr1_core.data/train."""
