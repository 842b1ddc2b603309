"""gr1_teleop: end-effector teleoperation (gamepad, SpaceMouse, keyboard) through MoveIt Servo."""
