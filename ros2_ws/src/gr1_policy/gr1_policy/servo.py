"""Getting MoveIt Servo to accept twists when the policy node activates (parameter servo_api).

- jazzy: ``<servo_node>/switch_command_type`` (moveit_msgs/srv/ServoCommandType, TWIST = 1);
  moveit_msgs is imported only here, so installs without MoveIt work with servo_api none.
- humble: ``<servo_node>/start_servo`` (std_srvs/srv/Trigger).
- none: nothing (simulator, or Servo started by someone else).

The call is asynchronous: activation must not block the executor that delivers the answer. Until
the answer arrives (and if it is a refusal) the node commands zero motion with the reason.

An answer can be lost: Fast DDS drops a service response when the server has not yet matched the
client's response reader (it waits about 100 ms for that), which happens on a loaded machine
right after discovery. So a request left unanswered for `timeout` seconds is sent again (both
services are idempotent); the node keeps commanding zero motion meanwhile.
"""

from __future__ import annotations

import time
from typing import Any


class ServoError(RuntimeError):
    pass


class ServoStarter:
    def __init__(self, node: Any, api: str, servo_node: str, timeout: float) -> None:
        self._node = node
        self.api = api
        self._timeout = timeout
        self._client = None
        self._future = None
        self._sent_at = 0.0
        self.sent = 0
        self.ready = api == "none"
        self.error: str | None = None
        base = servo_node.rstrip("/")
        if api == "jazzy":
            try:
                from moveit_msgs.srv import ServoCommandType
            except ImportError as exc:
                raise ServoError(
                    "servo_api is 'jazzy' but moveit_msgs is not installed (no wheel exists): "
                    "run on a ROS 2 Jazzy install with ros-jazzy-moveit-msgs, or set servo_api "
                    f"to 'none' ({exc})") from exc
            self._srv = ServoCommandType
            self.service = f"{base}/switch_command_type"
        elif api == "humble":
            from std_srvs.srv import Trigger

            self._srv = Trigger
            self.service = f"{base}/start_servo"
        elif api != "none":
            raise ServoError(f"servo_api {api!r} is not one of none, jazzy, humble")

    def start(self) -> None:
        """Send the request; raise ServoError when the service does not appear in time."""
        if self.api == "none":
            return
        self._client = self._node.create_client(self._srv, self.service)
        if not self._client.wait_for_service(timeout_sec=self._timeout):
            self.stop()
            raise ServoError(f"{self.service} did not appear within {self._timeout:g} s: "
                             "is MoveIt Servo running (and servo_node right)?")
        self.ready = False
        self.error = None
        self.sent = 0
        self._send()

    def _send(self) -> None:
        request = self._srv.Request()
        if self.api == "jazzy":
            request.command_type = self._srv.Request.TWIST
        self._future = self._client.call_async(request)
        self._future.add_done_callback(self._done)
        self._sent_at = time.monotonic()
        self.sent += 1

    def poll(self) -> None:
        """Send the request again when its answer has not come within the timeout."""
        if self._client is None or self.ready or self.error:
            return
        if time.monotonic() - self._sent_at >= self._timeout:
            self._node.get_logger().warning(
                f"{self.service} has not answered in {self._timeout:g} s: asking again "
                f"(request {self.sent + 1})")
            self._send()

    def _done(self, future: Any) -> None:
        if self._client is None:  # stopped meanwhile: an old answer means nothing now
            return
        try:
            response = future.result()
        except Exception as exc:
            self.error = f"{self.service} failed: {exc}"
            return
        if response is None or not response.success:
            message = getattr(response, "message", "")
            self.error = f"{self.service} refused the request{': ' + message if message else ''}"
            return
        self.ready = True

    @property
    def reason(self) -> str | None:
        """Why twists would be ignored right now (None when Servo accepts them)."""
        if self.ready:
            return None
        return self.error or f"waiting for {self.service} to answer (request {self.sent})"

    def stop(self) -> None:
        if self._client is not None:
            self._node.destroy_client(self._client)
            self._client = None
        self._future = None
        self.ready = self.api == "none"
