"""Parameters and help text of the gripper adapter (gr1_gripper_adapter, gr1-gripper-adapter).

Every parameter is read once, when the node starts, and declared read_only: `ros2 param set`
refuses it (rclpy's "read-only" reason) instead of accepting a value the node would ignore;
restart the node to change one. Each has a description with its unit and, for numbers, the
range ROS enforces. The float ones configure gr1_core.franka_gripper.FrankaGripperConfig, which
also checks them against each other (default_speed <= max_speed, ...). No rclpy at import.
"""

from __future__ import annotations

import textwrap
from typing import Any

from gr1_core.franka_gripper import FrankaGripperConfig

NODE_NAME = "gr1_gripper_adapter"
PROG = "gr1-gripper-adapter"
_D = FrankaGripperConfig()

# name: (default, unit, description, min, max)
PARAMETERS: dict[str, tuple[Any, str, str, float | None, float | None]] = {
    "max_width": (_D.max_width, "m", "Largest opening commanded (Franka Hand: 0.08 m fully "
                  "open); an OPEN asking for more is ignored.", 0.001, 0.2),
    "max_speed": (_D.max_speed, "m/s", "Largest finger speed commanded; a command asking for "
                  "more is ignored.", 0.001, 1.0),
    "max_force": (_D.max_force, "N", "Largest grasp force commanded (Franka Hand: 70 N "
                  "continuous); a CLOSE asking for more is ignored.", 0.1, 140.0),
    "default_speed": (_D.default_speed, "m/s", "Finger speed of a command that gives none "
                      "(speed <= 0); at most max_speed.", 0.001, 1.0),
    "default_force": (_D.default_force, "N", "Grasp force of a CLOSE that gives none "
                      "(force <= 0); at most max_force.", 0.1, 140.0),
    "grasp_width": (_D.grasp_width, "m", "Target width of the Grasp goal sent for CLOSE.",
                    0.0, 0.2),
    "epsilon_inner": (_D.epsilon_inner, "m", "Grasp success tolerance below grasp_width.",
                      0.0, 0.2),
    "epsilon_outer": (_D.epsilon_outer, "m", "Grasp success tolerance above grasp_width "
                      "(0.08: an object of any size up to the full opening).", 0.0, 0.2),
    "settle_time": (_D.settle_time, "s", "How long a new OPEN/CLOSE must stay the latest "
                    "request before it is sent (a flip back cancels it).", 0.0, 5.0),
    "min_interval": (_D.min_interval, "s", "Least time between two goals.", 0.0, 10.0),
    "open_above": (_D.open_above, "probability", "Switching to OPEN needs the command's "
                   "open_probability above this (hysteresis).", 0.5, 1.0),
    "close_below": (_D.close_below, "probability", "Switching to CLOSE needs the command's "
                    "open_probability below this (hysteresis).", 0.0, 0.5),
    "gripper_command_topic": ("/gr1/gripper_command", "topic",
                              "gr1_msgs/GripperCommand in (from the policy node).", None, None),
    "gripper_namespace": ("/franka_gripper", "namespace", "Prefix of franka_gripper's homing, "
                          "move and grasp actions and its stop service.", None, None),
    "poll_period": (0.02, "s", "Period of the timer that sends settled goals.", 0.001, 1.0),
    "home_on_start": (True, "-", "Home the gripper once when its homing action appears (the "
                      "Franka Hand calibrates its width); Move/Grasp goals wait until then.",
                      None, None),
    "homing_answer_timeout": (5.0, "s", "How long the homing goal may go without franka_gripper "
                              "accepting or rejecting it before it is sent again (Fast DDS can "
                              "lose the answer to a first request right after discovery).",
                              0.5, 60.0),
}
GRIPPER_FIELDS = tuple(n for n in PARAMETERS if hasattr(_D, n))
READ_ONLY_NOTE = "read at start (read_only): restart the node to change it"


def descriptor(name: str) -> Any:
    """ParameterDescriptor of a PARAMETERS entry: description with unit, range, read_only."""
    from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor

    _default, unit, text, lo, hi = PARAMETERS[name]
    desc = ParameterDescriptor(description=f"{text} [unit: {unit}]", read_only=True,
                               additional_constraints=READ_ONLY_NOTE)
    if lo is not None and hi is not None:
        desc.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi))]
    return desc


def declare_all(node: Any) -> tuple[FrankaGripperConfig, dict[str, Any]]:
    """Declare every parameter on node; (gripper config, the other values). Raises rclpy's
    exception for a value of the wrong type or out of range, ValueError for values that do
    not fit together."""
    values = {name: node.declare_parameter(name, spec[0], descriptor(name)).value
              for name, spec in PARAMETERS.items()}
    gripper = {n: float(values[n]) for n in GRIPPER_FIELDS}
    other = {n: v for n, v in values.items() if n not in GRIPPER_FIELDS}
    return FrankaGripperConfig(**gripper), other


def help_text() -> tuple[str, str]:
    """(description, epilog) of `gr1-gripper-adapter --help`."""
    description = (
        f"Node /{NODE_NAME}: forwards the policy's gr1_msgs/GripperCommand to franka_ros2's "
        "gripper node\n(franka_msgs Move and Grasp actions, std_srvs/Trigger stop), debounced: "
        "a new decision must\nsettle, flips inside the hysteresis band are ignored, at most one "
        "goal per min_interval.\n\n"
        "Topics and services (defaults):\n"
        "  in   /gr1/gripper_command (gr1_msgs/GripperCommand)\n"
        "  out  /franka_gripper/homing, /franka_gripper/move, /franka_gripper/grasp "
        "(franka_msgs actions)\n"
        "  out  /franka_gripper/stop (std_srvs/srv/Trigger)\n"
        "Needs franka_msgs (franka_ros2) sourced; the simulator needs no adapter.")
    rows = [textwrap.fill(f"{text} [{unit}; default {default!r}]", 100,
                          initial_indent=f"  {name:<22} ", subsequent_indent=" " * 25)
            for name, (default, unit, text, _lo, _hi) in PARAMETERS.items()]
    epilog = (
        f"parameters ({READ_ONLY_NOTE}; ros2 param describe /{NODE_NAME} <name> while it "
        "runs):\n" + "\n".join(rows) + "\n\nexamples:\n"
        f"  ros2 run gr1_policy {PROG} --ros-args -p max_force:=40.0\n"
        f"  ros2 run gr1_policy {PROG} --ros-args --params-file gripper.yaml\n"
        "Ctrl-C / SIGTERM: exit 0. A bad parameter or missing franka_msgs: one line on stderr, "
        "exit 2.")
    return description, epilog
