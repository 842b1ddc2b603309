"""spawner, TEST STAND-IN: `spawner NAME [--controller-manager-timeout S] [-c CM] ...`.

Waits for the controller manager (up to the timeout, as the real spawner), asks it to activate
NAME (gr1_rehearsal's stand-in protocol: parameter `rehearsal.activate`), prints the outcome and
exits 0, or 1 with the reason. Options the real spawner has and this one does not use are
accepted and ignored; an option it does not know is refused.

A request left unanswered is sent again, as the real spawner's service calls are (a few attempts,
a timeout each): Fast DDS drops a response when the server has not yet matched the client's
response reader, which a loaded machine shows right after discovery. When a repeated request
finds the controller already active, the earlier one did its work and only its answer was lost.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import rclpy
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters

ATTEMPTS = 5
CALL_TIMEOUT_S = 5.0


def _call(node, client, request):
    """One SetParameters call: its one result, or None without an answer in CALL_TIMEOUT_S."""
    future = client.call_async(request)
    deadline = time.monotonic() + CALL_TIMEOUT_S
    while not future.done() and time.monotonic() < deadline and rclpy.ok():
        rclpy.spin_once(node, timeout_sec=0.1)
    if not future.done():
        client.remove_pending_request(future)
        return None
    return future.result().results[0]


def main(argv: list[str] | None = None) -> int:
    args = rclpy.utilities.remove_ros_args(sys.argv if argv is None else argv)[1:]
    parser = argparse.ArgumentParser(prog="spawner")
    parser.add_argument("controller_names", nargs="+")
    parser.add_argument("-c", "--controller-manager", default="/controller_manager")
    parser.add_argument("--controller-manager-timeout", type=float, default=10.0)
    parser.add_argument("-p", "--param-file")
    parser.add_argument("--controller-ros-args")
    parser.add_argument("--inactive", action="store_true")
    opts = parser.parse_args(args)
    if opts.inactive:
        print("spawner: --inactive is not simulated by the rehearsal", file=sys.stderr)
        return 1
    rclpy.init()
    node = rclpy.create_node("spawner_" + opts.controller_names[0])
    try:
        cm = opts.controller_manager
        cm = cm if cm.startswith("/") else "/" + cm
        client = node.create_client(SetParameters, f"{cm}/set_parameters")
        if not client.wait_for_service(timeout_sec=opts.controller_manager_timeout):
            node.get_logger().fatal(f"controller manager {cm} not available after "
                                    f"{opts.controller_manager_timeout} s")
            return 1
        for name in opts.controller_names:
            request = SetParameters.Request(parameters=[Parameter(
                name="rehearsal.activate",
                value=ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=name))])
            result = None
            for attempt in range(1, ATTEMPTS + 1):
                result = _call(node, client, request)
                if result is not None:
                    break
                if not rclpy.ok():
                    print(f"spawner: interrupted while activating {name}", file=sys.stderr)
                    return 1
                node.get_logger().warning(f"no answer from {cm} for {name} in {CALL_TIMEOUT_S} "
                                          f"s (attempt {attempt} of {ATTEMPTS})")
            if result is None:
                node.get_logger().fatal(f"no answer from {cm} for {name}")
                return 1
            lost_answer = attempt > 1 and "already active" in result.reason
            if not result.successful and not lost_answer:
                node.get_logger().fatal(f"failed to activate controller {name}: {result.reason}")
                return 1
            node.get_logger().info(f"Configured and activated {name}")
        return 0
    except KeyboardInterrupt:
        return 1
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


def run() -> None:
    # Ends at once, as the real spawner's short life does: once in a full CI run this stand-in,
    # its controller already activated and its node destroyed, hung on in the interpreter's
    # teardown (busy, state R), ignored SIGINT and SIGTERM, and held up launch's shutdown.
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
