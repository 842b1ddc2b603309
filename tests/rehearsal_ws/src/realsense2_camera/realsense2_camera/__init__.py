"""realsense2_camera_node publishing the simulator's views as a RealSense colour stream."""
