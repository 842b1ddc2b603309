"""franka.launch.py starting the simulator-backed Franka stand-ins."""
