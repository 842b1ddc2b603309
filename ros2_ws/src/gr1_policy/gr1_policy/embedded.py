"""Run a PolicyNode inside a Python program (tests, benchmarks, the demo launcher).

    with EmbeddedPolicy(context, checkpoint=path, control_rate=30.0) as policy:
        assert policy.configure() and policy.activate()
        ...

The node spins on its own SingleThreadedExecutor in a background thread. Lifecycle transitions
are handed to that executor as tasks (``executor.create_task``) so that they run on the spinning
thread, exactly as a lifecycle service request would, and never race the control tick.
Closing stops the spin loop with a flag, joins the thread and only then shuts the executor down
(calling executor.shutdown() while another thread spins aborts the process).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from gr1_policy import params
from gr1_policy.policy_node import PolicyNode


class EmbeddedPolicy:
    def __init__(self, context: Any, node_name: str = params.NODE_NAME, **overrides: Any) -> None:
        from rclpy.executors import SingleThreadedExecutor

        self.node = PolicyNode(node_name, context=context,
                               parameter_overrides=params.overrides(**overrides))
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self._running = True
        self._closed = False
        self._thread = threading.Thread(target=self._spin, name="gr1-policy-spin", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._running and self.executor.context.ok():
            self.executor.spin_once(timeout_sec=0.05)

    def call(self, fn: Any, *args: Any, timeout: float = 30.0) -> Any:
        """Run fn(*args) on the spinning thread and return its result."""
        task = self.executor.create_task(fn, *args)
        deadline = time.monotonic() + timeout
        while not task.done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{getattr(fn, '__name__', fn)} did not finish within {timeout} s")
            time.sleep(0.01)
        if task.exception() is not None:
            raise task.exception()
        return task.result()

    def set_parameters(self, **values: Any) -> None:
        """Change parameters (names as in params.overrides); they apply at the next configure."""
        results = self.call(self.node.set_parameters, params.overrides(**values))
        bad = [r.reason for r in results if not r.successful]
        if bad:
            raise ValueError("; ".join(bad))

    def _transition(self, name: str, timeout: float) -> bool:
        from rclpy.lifecycle import TransitionCallbackReturn

        result = self.call(getattr(self.node, f"trigger_{name}"), timeout=timeout)
        return result == TransitionCallbackReturn.SUCCESS

    def configure(self, timeout: float = 60.0) -> bool:
        return self._transition("configure", timeout)

    def activate(self, timeout: float = 30.0) -> bool:
        return self._transition("activate", timeout)

    def deactivate(self, timeout: float = 30.0) -> bool:
        return self._transition("deactivate", timeout)

    def cleanup(self, timeout: float = 30.0) -> bool:
        return self._transition("cleanup", timeout)

    def shutdown(self, timeout: float = 30.0) -> bool:
        return self._transition("shutdown", timeout)

    def lifecycle_state(self) -> str:
        return self.node._state_machine.current_state[1]

    def close(self) -> None:
        """Shut the node down (zero twist if active), stop spinning, destroy it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive() and self.lifecycle_state() in ("active", "inactive",
                                                                  "unconfigured"):
            with contextlib.suppress(TimeoutError):
                self.shutdown(timeout=10.0)
        self._running = False
        self._thread.join(timeout=5.0)
        self.executor.shutdown()
        self.node.destroy_node()
        # rclpy's lifecycle state machine holds the rcl node until garbage collection; freed
        # later, after another node of the same name exists in this process, it unregisters that
        # node's /rosout publisher. Free it now.
        state_machine = getattr(self.node, "_state_machine", None)
        if state_machine is not None:
            state_machine.destroy_when_not_in_use()

    def __enter__(self) -> EmbeddedPolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
