"""`RateMeter`: the achieved rate of a loop over its last seconds (the bridge's physics and
camera threads, read by `BridgeNode.timing()` and its 10 s log line). No ROS."""

from __future__ import annotations

from collections import deque


class RateMeter:
    """Counts events and reports their rate over the last window (thread-safe enough for
    one writer and occasional readers)."""

    def __init__(self, window: float = 2.0):
        self.window = window
        self._times: deque[float] = deque(maxlen=10_000)

    def tick(self, now: float) -> None:
        self._times.append(now)
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()

    def rate(self) -> float:
        times = list(self._times)
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])
