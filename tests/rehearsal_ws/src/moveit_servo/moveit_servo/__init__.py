"""servo_node with MoveIt Servo's Jazzy interface, relaying twists to the simulated arm."""
