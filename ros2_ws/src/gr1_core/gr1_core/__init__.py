"""ROS-free core of gr1-ros.

Everything here runs the same in the ROS node, in offline replay and in training, and never
imports rclpy (tests/test_core_is_ros_free.py checks this).
"""

__version__ = "0.1.0"
