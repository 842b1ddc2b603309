"""Start gr1-ros graphs from Python: the simulator demo and the graph tests use this where
`ros2 launch` is not installed. The launch files in launch/ describe the same graphs."""
