"""A service call that asks again when its answer does not come.

Fast DDS drops the answer to a request sent right after discovery when the server has not yet
matched the client's response reader (it waits about 100 ms for that; a loaded machine takes
longer). Only requests that may be repeated (same request, same effect) belong here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def call_again_until_answered(client: Any, request: Any, timeout: float, resend_after: float,
                              log: Callable[[str], None] | None = None,
                              abort: Callable[[], None] | None = None) -> Any | None:
    """The response, or None when none came within `timeout` seconds. The caller spins the
    client's node; `abort` (called while waiting) may raise to stop early."""
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < timeout:
        future = client.call_async(request)
        sent += 1
        attempt_end = min(start + timeout, time.monotonic() + resend_after)
        while not future.done() and time.monotonic() < attempt_end:
            if abort is not None:
                abort()
            time.sleep(0.01)
        if future.done():
            return future.result()
        client.remove_pending_request(future)
        if log is not None and time.monotonic() - start < timeout:
            log(f"{client.srv_name} has not answered in {resend_after:g} s: asking again "
                f"(request {sent + 1})")
    return None
