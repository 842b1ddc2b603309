"""Camera frames off the control thread: the newest serialized frame per camera is checked and
decoded by one worker thread, so neither a frame's size nor its conversion can delay the control
tick.

The camera subscriptions take the serialized message (rclpy `raw=True`): the executor thread that
also runs the control tick only stores the bytes (the newest per camera; an unprocessed older
frame is dropped, counted in `skipped`). The worker reads the header fields straight out of the
CDR bytes (`parse_image`, no deserialization, no pixel touched), so a frame that is too large
(max_image_pixels), mis-encoded or lying about its size is refused before it costs anything, then
decodes the pixels with the one decoding function of the stack, gr1_core.input_checks.image_to_rgb
(a view of the bytes, one copy out). The model's processor resizes the frames it uses on the
inference worker's thread (gr1_core.processors), never here: shrinking every frame would cost more
than shrinking the ones the model runs on.

A refused frame never replaces the last good one: it latches a fault on the camera's InputState
(InputState.refuse), which holds the arm for fault_hold_time.
"""

from __future__ import annotations

import collections
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gr1_core import input_checks
from gr1_core.input_checks import ImageError, InputState


@dataclass
class RawImage:
    """The fields of a serialized sensor_msgs/Image; data is a view into the bytes."""

    stamp: float  # [s]
    frame_id: str
    height: int
    width: int
    encoding: str
    step: int
    data: memoryview


def parse_image(raw: bytes) -> RawImage:
    """Header fields of a CDR-serialized sensor_msgs/Image (XCDR1, as rmw_fastrtps writes it)
    without deserializing it. Raises ImageError when the bytes are not such a message."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] not in (0, 1):
        raise ImageError("serialized image has an unknown encapsulation")
    order = "<" if raw[1] == 1 else ">"
    view = memoryview(raw)
    pos = 4

    def u32() -> int:
        nonlocal pos
        pos = 4 + (pos - 4 + 3) // 4 * 4
        if pos + 4 > len(raw):
            raise ImageError("serialized image is truncated")
        (value,) = struct.unpack_from(order + "I", raw, pos)
        pos += 4
        return value

    def text() -> str:
        nonlocal pos
        n = u32()
        if n > 4096 or pos + n > len(raw):
            raise ImageError("serialized image has a malformed string field")
        value = bytes(view[pos:pos + n]).rstrip(b"\0").decode("utf-8", "replace")
        pos += n
        return value

    sec = u32()
    sec = sec - (1 << 32) if sec >= 1 << 31 else sec  # int32
    nanosec = u32()
    frame_id = text()
    height, width = u32(), u32()
    encoding = text()
    if pos + 1 > len(raw):
        raise ImageError("serialized image is truncated")
    pos += 1  # is_bigendian
    step = u32()
    n = u32()
    if pos + n > len(raw):
        raise ImageError(f"serialized image announces {n} data bytes but carries {len(raw) - pos}")
    return RawImage(sec + nanosec * 1e-9, frame_id, height, width, encoding, step,
                    view[pos:pos + n])


def peek_stamp(raw: bytes) -> float | None:
    """The header stamp [s] of a CDR-serialized sensor_msgs/Image (its first two fields), None
    when the bytes are too short or of an unknown encapsulation (parse_image says why)."""
    if len(raw) < 12 or raw[0] != 0 or raw[1] not in (0, 1):
        return None
    sec, nanosec = struct.unpack_from("<iI" if raw[1] == 1 else ">iI", raw, 4)
    return sec + nanosec * 1e-9


class CameraFrames:
    """The newest frame of each camera, checked and decoded on a thread of its own.

    states: InputState per camera name; lock: guards them and `rgb` (shared with the tick);
    now: ROS time [s]; limits: max input age [s], max pixels, accepted encodings.
    """

    def __init__(self, states: dict[str, InputState], lock: threading.Lock,
                 now: Callable[[], float], max_age: float, max_pixels: int,
                 encodings: tuple[str, ...] = input_checks.COLOUR_ENCODINGS) -> None:
        self.states = states
        self.rgb: dict[str, np.ndarray | None] = dict.fromkeys(states)
        self.frame_ids: dict[str, str] = dict.fromkeys(states, "")  # of the newest good frame
        self._lock = lock
        self._now = now
        self._max_age = max_age
        self._max_pixels = max_pixels
        self._encodings = encodings
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[bytes, float]] = {}
        # (oldest, newest) stamp of the frames replaced unseen since the camera's last checked
        # one: a frame dropped for a newer one still counts for the order of the stream (two
        # publishers whose frames arrive in pairs would otherwise hide each other).
        self._dropped: dict[str, tuple[float, float]] = {}
        self._running = False
        self._busy = False  # the frame thread is checking a frame
        self._thread: threading.Thread | None = None
        self.skipped = 0  # frames replaced by a newer one before the worker got to them
        self.processed = 0
        # (receipt, done, worker CPU s) perf_counter/thread_time per frame, for benchmarks only.
        self.timings: collections.deque | None = None

    # --- executor thread ---------------------------------------------------------------------
    def offer(self, camera: str, raw: bytes) -> None:
        """A serialized frame arrived: keep it as the newest of its camera; nothing else."""
        with self._cond:
            if camera in self._pending:
                self.skipped += 1
                stamp = peek_stamp(self._pending[camera][0])
                if stamp is not None:
                    lo, hi = self._dropped.get(camera, (stamp, stamp))
                    self._dropped[camera] = (min(lo, stamp), max(hi, stamp))
            self._pending[camera] = (raw, time.perf_counter())
            self._cond.notify()

    # --- thread lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="gr1-frames", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._running = False
            self._pending.clear()
            self._dropped.clear()
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._running and not self._pending:
                    self._cond.wait()
                if not self._running:
                    return
                camera = next(iter(self._pending))
                raw, receipt = self._pending.pop(camera)
                dropped = self._dropped.pop(camera, None)
                self._busy = True
            try:
                self._handle(camera, raw, receipt, dropped)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def drain(self, timeout: float = 1.0) -> None:
        """Check and decode every frame received so far before returning: the frame thread's
        frame in progress, then the pending ones here (inference_mode sync, lock-step runs)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                while self._busy and time.monotonic() < deadline:
                    self._cond.wait(timeout=0.01)
                if not self._pending:
                    return
                camera = next(iter(self._pending))
                raw, receipt = self._pending.pop(camera)
                dropped = self._dropped.pop(camera, None)
            self._handle(camera, raw, receipt, dropped)

    def _handle(self, camera: str, raw: bytes, receipt: float,
                dropped: tuple[float, float] | None = None) -> None:
        cpu = time.thread_time()
        try:
            self.process(camera, raw, dropped)
        except Exception as exc:  # a bug here must hold the arm, not end the thread
            with self._lock:
                state = self.states[camera]
                state.refuse(f"{state.label} unusable: internal error decoding the frame: "
                             f"{type(exc).__name__}: {exc}", self._now())
        self.processed += 1
        if self.timings is not None:
            self.timings.append((receipt, time.perf_counter(), time.thread_time() - cpu))

    # --- the rules -----------------------------------------------------------------------------
    def process(self, camera: str, raw: bytes,
                dropped: tuple[float, float] | None = None) -> None:
        """Check and decode one serialized frame; store it, or latch why it was refused.
        dropped: (oldest, newest) stamp of the frames of this camera replaced by it unseen."""
        state = self.states[camera]
        now = self._now()
        try:
            img = parse_image(raw)
            input_checks.raw_image_header(img.encoding, img.width, img.height, img.step,
                                          len(img.data), self._encodings, self._max_pixels)
        except ImageError as exc:
            self._refuse(state, f"{state.label} unusable: {exc}", now)
            return
        order = [(img.stamp, state.stamp)]
        if dropped is not None:  # the stream as it arrived: last, dropped ones, this one
            order += [(dropped[0], state.stamp), (img.stamp, dropped[1])]
        reason = input_checks.stamp_fault(state.label, state.noun, img.stamp, now, self._max_age)
        for stamp, before in order:
            reason = reason or input_checks.out_of_order(state.label, state.noun, stamp, before,
                                                         now, self._max_age)
        if reason:
            self._refuse(state, reason, now)
            return
        try:
            rgb = input_checks.image_to_rgb(img, encodings=self._encodings,
                                            max_pixels=self._max_pixels)
        except ImageError as exc:
            self._refuse(state, f"{state.label} unusable: {exc}", now)
            return
        with self._lock:
            state.stamp = img.stamp
            state.error = None
            self.rgb[camera] = rgb
            self.frame_ids[camera] = img.frame_id

    def _refuse(self, state: InputState, reason: str, now: float) -> None:
        with self._lock:
            state.refuse(reason, now)

