"""The FR3 SRDF xacro (kinematic names only)."""
