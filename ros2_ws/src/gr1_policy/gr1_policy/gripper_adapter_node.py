"""gr1_gripper_adapter: gr1_msgs/GripperCommand -> franka_gripper Move/Grasp actions, Stop service.

A thin adapter: what to send and when is decided by gr1_core.franka_gripper (pure, unit-tested);
this node only moves messages. franka_msgs comes from franka_ros2 and exists only on a robot
install, so it is imported when the node starts, with a message that names the package.

Written against franka_ros2 2.x (Jazzy): actions <ns>/homing (franka_msgs/action/Homing),
<ns>/move (franka_msgs/action/Move), <ns>/grasp (franka_msgs/action/Grasp), service <ns>/stop
(std_srvs/srv/Trigger), ns defaulting to /franka_gripper. With `home_on_start` (default true) the
adapter homes the gripper once when its homing action appears (the Franka Hand calibrates its
width) and holds Move/Grasp goals until that has finished. Not exercised against a real gripper
in CI (franka_msgs has no wheel); the robot rehearsal (tests/launch/test_robot_rehearsal.py)
runs it against a franka_gripper stand-in with the real franka_msgs.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from gr1_core.franka_gripper import (
    FrankaGripperConfig,
    GripperDebouncer,
    GripperGoal,
    GripperRequest,
    command_name,
)
from gr1_policy import gripper_adapter_params

NODE_NAME = gripper_adapter_params.NODE_NAME
MISSING_FRANKA_MSGS = (
    "gr1_gripper_adapter needs the ROS package franka_msgs (part of franka_ros2), which is not "
    "installed or not sourced here: {error}. Build franka_ros2 into a workspace and source it "
    "(docs/ROBOT.md, or use the Docker image in docker/), or leave the gripper adapter out "
    "(robot.launch.py use_gripper:=false; the simulator needs no adapter)."
)


class FrankaMsgsMissing(RuntimeError):
    pass


def load_franka_actions() -> tuple[Any, Any]:
    """(Move, Grasp) action types from franka_msgs; FrankaMsgsMissing with a clear text otherwise."""
    try:
        from franka_msgs.action import Grasp, Move
    except ImportError as exc:
        raise FrankaMsgsMissing(MISSING_FRANKA_MSGS.format(error=exc)) from exc
    return Move, Grasp


def load_homing_action() -> Any:
    """franka_msgs/action/Homing (call after load_franka_actions succeeded)."""
    from franka_msgs.action import Homing

    return Homing


def _config_from_params(node) -> tuple[FrankaGripperConfig, dict]:
    # Declared with descriptors (unit, range) and read_only: read once, here
    # (gr1_policy.gripper_adapter_params).
    return gripper_adapter_params.declare_all(node)


def make_node(move_type: Any, grasp_type: Any, homing_type: Any = None):
    """Build the node (rclpy must be initialised). Without homing_type it never homes."""
    from rclpy.node import Node
    from std_srvs.srv import Trigger

    from gr1_msgs.msg import GripperCommand
    from gr1_policy.action_client import action_client

    class GripperAdapter(Node):
        def __init__(self) -> None:
            super().__init__(NODE_NAME)
            cfg, other = _config_from_params(self)
            self.debouncer = GripperDebouncer(cfg)
            ns = other["gripper_namespace"].rstrip("/")
            self.move_client = action_client(self, move_type, f"{ns}/move")
            self.grasp_client = action_client(self, grasp_type, f"{ns}/grasp")
            self.stop_client = self.create_client(Trigger, f"{ns}/stop")
            home = bool(other["home_on_start"]) and homing_type is not None
            self.homing_client = (action_client(self, homing_type, f"{ns}/homing") if home
                                  else None)
            # pending -> sent -> accepted -> done; sent goes back to pending without an answer
            self._homing = "pending" if home else "done"
            self._homing_sent_at = 0.0
            self._homing_timeout = float(other["homing_answer_timeout"])
            self._active = None  # goal handle of the running Move/Grasp, cancelled on a new goal
            self.create_subscription(
                GripperCommand, other["gripper_command_topic"], self._on_command, 10
            )
            self.create_timer(float(other["poll_period"]), self._on_timer)
            self.get_logger().info(
                f"forwarding {other['gripper_command_topic']} to {ns}/move, {ns}/grasp, {ns}/stop"
            )

        def _now(self) -> float:
            return self.get_clock().now().nanoseconds * 1e-9

        def _on_command(self, msg) -> None:
            req = GripperRequest(
                int(msg.command), float(msg.width), float(msg.speed), float(msg.force),
                float(msg.open_probability),
            )  # fmt: skip
            try:
                goal = self.debouncer.update(req, self._now())
            except ValueError as exc:
                # Bad input never moves the gripper.
                self.get_logger().error(f"ignored {command_name(req.command)} command: {exc}")
                return
            if goal is not None:
                self._send(goal)

        def _on_timer(self) -> None:
            if (self._homing == "sent"
                    and time.monotonic() - self._homing_sent_at > self._homing_timeout):
                self.get_logger().warn(
                    f"franka_gripper has not answered the homing goal in "
                    f"{self._homing_timeout:g} s: sending it again")
                self._homing = "pending"
            if self._homing == "pending" and self.homing_client.server_is_ready():
                self._homing = "sent"
                self._homing_sent_at = time.monotonic()
                self.get_logger().info("gripper homing")
                self.homing_client.send_goal_async(homing_type.Goal()).add_done_callback(
                    self._on_homing_accepted)
            goal = self.debouncer.poll(self._now())
            if goal is not None:
                self._send(goal)

        def _send(self, goal: GripperGoal) -> None:
            log = self.get_logger()
            if goal.kind == "stop":
                if not self.stop_client.service_is_ready():
                    log.error(
                        f"{self.stop_client.srv_name} not available: is franka_gripper running?"
                    )
                    return
                self.stop_client.call_async(Trigger.Request())
                log.info("gripper stop requested")
                return
            if self._homing != "done":
                self.debouncer.requeue(goal)  # Move/Grasp wait until homing has finished
                return
            client = self.move_client if goal.kind == "move" else self.grasp_client
            if not client.server_is_ready():
                log.warn(
                    f"action server {client._action_name} not available (is franka_gripper "
                    "running, load_gripper:=true?); will retry"
                )
                self.debouncer.requeue(goal)
                return
            if self._active is not None:
                self._active.cancel_goal_async()
                self._active = None
            if goal.kind == "move":
                ros_goal = move_type.Goal(width=goal.width, speed=goal.speed)
            else:
                ros_goal = grasp_type.Goal(width=goal.width, speed=goal.speed, force=goal.force)
                ros_goal.epsilon.inner = goal.epsilon_inner
                ros_goal.epsilon.outer = goal.epsilon_outer
            log.info(f"gripper {goal.kind}: width {goal.width:.3f} m, speed {goal.speed:.3f} m/s")
            client.send_goal_async(ros_goal).add_done_callback(self._on_accepted)

        def _on_homing_accepted(self, future) -> None:
            handle = future.result()
            if self._homing == "done":
                return  # the answer to an earlier, repeated request: already homed
            if not handle.accepted:
                self.get_logger().warn("gripper homing rejected by franka_gripper")
                self._homing = "done"
                return
            self._homing = "accepted"
            handle.get_result_async().add_done_callback(self._on_homing_result)

        def _on_homing_result(self, future) -> None:
            result = future.result().result
            if result.success:
                self.get_logger().info("gripper homed")
            else:
                self.get_logger().warn(f"gripper homing failed: {result.error or 'no reason'}")
            self._homing = "done"

        def _on_accepted(self, future) -> None:
            handle = future.result()
            if not handle.accepted:
                self.get_logger().warn("gripper goal rejected by franka_gripper")
                return
            self._active = handle
            handle.get_result_async().add_done_callback(
                lambda result_future: self._on_result(handle, result_future)
            )

        def _on_result(self, handle, future) -> None:
            if self._active is handle:
                self._active = None  # finished: nothing to cancel before the next goal
            result = future.result().result
            if not result.success:
                self.get_logger().warn(
                    f"gripper goal did not succeed: {result.error or 'no reason'}"
                )

    return GripperAdapter()


def main(argv: list[str] | None = None) -> int:
    """argv: the arguments after the program name (None: sys.argv)."""
    from gr1_core import node_cli

    parser = node_cli.node_parser(gripper_adapter_params.PROG, *gripper_adapter_params.help_text())
    _own, ros_argv = node_cli.parse_node_args(parser, argv)
    # Check franka_msgs before touching DDS, so a missing install fails at once and plainly.
    try:
        move_type, grasp_type = load_franka_actions()
        homing_type = load_homing_action()
    except FrankaMsgsMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    # The first SIGINT/SIGTERM ends the spin; a repeat (ros2 launch forwards a terminal's
    # Ctrl-C a second time) is ignored instead of interrupting the shutdown.
    stop = node_cli.StopSignals().install()
    try:
        rclpy.init(args=ros_argv, signal_handler_options=SignalHandlerOptions.NO)
        node = make_node(move_type, grasp_type, homing_type)
    except Exception as exc:  # a parameter out of range, of the wrong type, or inconsistent
        rclpy.try_shutdown()
        return node_cli.startup_failed(gripper_adapter_params.PROG, exc)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        node_cli.spin_until_stopped(executor, stop)
    except ExternalShutdownException:
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
