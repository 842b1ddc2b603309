"""Checks that decide whether the policy's inputs are fit to move a robot.

Pure functions over timestamps and arrays (no ROS), so the same rules hold in the node, the
simulator bridge and offline replay. Each returns ``None`` when the input is fine, else a reason in
plain words naming the input and the cause, e.g.
``"wrist camera stale: last frame 0.52 s old (limit 0.2 s)"``. The node publishes zero motion with
the first reason and reports all of them.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class InputState:
    """What the node last received on one input, and the fault it last had.

    stamp: the header stamp [s] of the newest accepted message (None: none yet);
    error: why the newest message could not be used (malformed), None when it was fine;
    fault, fault_time: the newest fault (a refused message or a failed check, as a full reason)
    and the ROS time [s] it was seen. A fault latches: the input stays unusable for the hold time
    after the last one (`latch`), so bad messages interleaved with good ones (a second publisher
    on the topic) never let the arm move in between.
    """

    label: str  # "static camera", "wrist camera", "joint states", "TCP pose"
    noun: str = "message"  # "frame" for cameras
    stamp: float | None = None
    error: str | None = None
    fault: str | None = None
    fault_time: float | None = None

    def age(self, now: float) -> float | None:
        return None if self.stamp is None else now - self.stamp

    def refuse(self, reason: str, now: float) -> None:
        """A message was refused on arrival (reason names the input): latch it."""
        self.fault, self.fault_time = reason, now

    def latch(self, reason: str | None, now: float, hold: float) -> str | None:
        """The reason to hold this input now: a live fault (recorded), else the latched one
        while less than `hold` s have passed since the last fault, else None."""
        if reason is not None:
            self.fault, self.fault_time = reason, now
            return reason
        if self.fault is None or self.fault_time is None:
            return None
        since = now - self.fault_time
        if since < hold:
            return (f"{self.fault} (latched: last fault {max(since, 0.0):.2f} s ago, "
                    f"hold {hold:g} s)")
        self.fault = self.fault_time = None
        return None


@dataclass(frozen=True)
class InputLimits:
    max_age: float  # [s] older inputs are stale
    max_camera_skew: float  # [s] largest stamp difference between the two cameras
    max_instruction_length: int  # [chars]
    fault_hold: float = 0.0  # [s] an input stays unusable this long after its last fault


NOT_RECEIVED = "nothing received yet"


def freshness(state: InputState, now: float, max_age: float) -> str | None:
    """Malformed, never received, stale, or stamped in the future."""
    if state.error is not None:
        return f"{state.label} unusable: {state.error}"
    if state.stamp is None:
        return f"{state.label}: {NOT_RECEIVED}"
    return stamp_fault(state.label, state.noun, state.stamp, now, max_age)


def stamp_fault(label: str, noun: str, stamp: float, now: float, max_age: float) -> str | None:
    """A message stamped `stamp` seen at `now`: unstamped, not a time, stale, or in the future.
    The node applies it on arrival (a refused message never replaces a good one) and again at
    every control tick (an input that stops turns stale)."""
    if stamp == 0.0:
        return f"{label}: header stamp is zero (the publisher does not stamp its messages)"
    if stamp < 0.0:
        return f"{label}: header stamp {stamp:.9g} s is negative (not a time)"
    age = now - stamp
    if not math.isfinite(age):
        return f"{label}: header stamp {stamp!r} is not a time"
    if age > max_age:
        return f"{label} stale: last {noun} {age:.2f} s old (limit {max_age:g} s)"
    if age < -max_age:
        # Clocks of two machines disagree; trusting such a stamp would hide real staleness.
        return (f"{label} stamped {-age:.2f} s in the future "
                f"(limit {max_age:g} s; are the clocks synchronised?)")
    return None


def out_of_order(label: str, noun: str, stamp: float, last: float | None,
                 now: float, max_age: float = 0.0) -> str | None:
    """A message stamped before the last accepted one of its stream: two publishers on one
    topic (a bag replayed beside the live driver, a second camera node), whose slightly older
    (or slightly newer) messages would otherwise alternate with the good ones, each within the
    age limit. A clock that jumped back (simulation or bag time restarted: the last stamp now
    lies more than max_age [s] in the future, farther than any stamp accepted on arrival can)
    is not a second publisher: the new stamp is accepted."""
    if last is None or stamp >= last or last > now + max_age:
        return None
    return (f"{label}: {noun} stamped {last - stamp:.3f} s before the previous one (a second "
            "publisher on its topic, or its clock jumped back)")


def camera_skew(static_stamp: float | None, wrist_stamp: float | None,
                max_skew: float) -> str | None:
    """The two frames of one observation must be taken at about the same time."""
    if static_stamp is None or wrist_stamp is None:
        return None  # reported by freshness()
    skew = abs(static_stamp - wrist_stamp)
    if skew > max_skew:
        newer = "static" if static_stamp > wrist_stamp else "wrist"
        return (f"cameras out of sync: frames {skew:.3f} s apart, {newer} newer "
                f"(limit {max_skew:g} s)")
    return None


def finite(label: str, values: Sequence[float] | np.ndarray) -> str | None:
    """Every value is a finite number; names the first bad entries."""
    arr = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        shown = ", ".join(f"[{i}]={arr.flat[i]}" for i in bad[:3])
        return f"{label} has non-finite values: {shown}"
    return None


def instruction(text: str | None, max_length: int) -> str | None:
    """An instruction the policy can follow: present, non-blank, not absurdly long, text (no
    control characters but tab and line breaks, no U+FFFD: bytes that were not UTF-8)."""
    if text is None:
        return "no instruction: publish one on the instruction topic or call set_instruction"
    if not text.strip():
        return "instruction is empty"
    if len(text) > max_length:
        return f"instruction refused: {len(text)} characters (limit {max_length})"
    for i, ch in enumerate(text):
        if ch == "\ufffd":
            return (f"instruction refused: not text: U+FFFD at character {i} (the message "
                    "carried bytes that are not UTF-8)")
        if ch not in "\t\n\r" and unicodedata.category(ch) == "Cc":
            return f"instruction refused: control character U+{ord(ch):04X} at character {i}"
    return None


def check_all(
    cameras: tuple[InputState, InputState],
    others: Sequence[InputState],
    now: float,
    limits: InputLimits,
) -> list[str]:
    """All reasons why an observation taken now must not drive the robot (empty: fine).

    A refused message (InputState.refuse) latches: it stays a reason for limits.fault_hold s
    after the last one, however many good messages come in between. What is judged at the tick
    (an input stale or never received, cameras out of sync) holds only while it lasts: frames
    lost on the way are not a bad sensor, and motion resumes with the next fresh pair."""
    reasons = []
    for s in (*cameras, *others):
        latched = s.latch(None, now, limits.fault_hold)
        if latched:
            reasons.append(latched)
        live = freshness(s, now, limits.max_age)
        if live and live != s.fault:
            reasons.append(live)
    skew = camera_skew(cameras[0].stamp, cameras[1].stamp, limits.max_camera_skew)
    if skew:
        reasons.append(skew)
    return reasons


# --------------------------------------------------------------------------- plausible state
# Finite is not enough: a TCP 1e6 m away or a finger at -0.5 m is a broken driver or a wrong
# topic, and a policy fed with it must not move the arm.

def tcp_position(xyz: Sequence[float], max_distance: float) -> str | None:
    """A TCP position [m] in the base frame: finite and within max_distance of its origin."""
    bad = finite("position", xyz)
    if bad:
        return bad
    dist = math.sqrt(sum(float(v) * float(v) for v in xyz))
    if not dist <= max_distance:
        shown = ", ".join(f"{float(v):.4g}" for v in xyz)
        return (f"position ({shown}) is {dist:.4g} m from the base origin, beyond the arm's "
                f"reach (limit {max_distance:g} m)")
    return None


QUATERNION_NORM_TOLERANCE = 0.01  # |norm - 1| above this is no rotation (tf2 uses the same)


def orientation(xyzw: Sequence[float]) -> str | None:
    """An orientation quaternion (x, y, z, w): finite and of unit norm within
    QUATERNION_NORM_TOLERANCE. A zero or far-from-unit quaternion is a broken driver, not a
    rotation to normalise."""
    shown = ", ".join(str(float(v)) for v in xyzw)
    norm = math.sqrt(sum(float(v) * float(v) for v in xyzw))
    if not math.isfinite(norm) or norm < 1e-6:
        return f"orientation quaternion ({shown}) is not a rotation"
    if abs(norm - 1.0) > QUATERNION_NORM_TOLERANCE:
        return (f"orientation quaternion ({shown}) has norm {norm:.4g}: it is not a unit "
                f"quaternion (tolerance {QUATERNION_NORM_TOLERANCE:g})")
    return None


def finger_position(joint: str, value: float, limits: tuple[float, float]) -> str | None:
    """One finger joint position [m]: finite and inside the gripper's travel."""
    if not math.isfinite(value):
        return f"joint {joint!r} position is {value}"
    lo, hi = limits
    if not lo <= value <= hi:
        return f"joint {joint!r} position {value:.4g} m is outside {lo:g}..{hi:g} m"
    return None


def frame_id(label: str, got: str, expected: str) -> str | None:
    """A stamped pose must be in the frame the node works in: a wrong frame is a wrong pose."""
    if got != expected:
        return f"{label} is in frame {got!r}, expected {expected!r} (base_frame)"
    return None


# --------------------------------------------------------------------------- camera frames
# One rule for every camera frame the stack reads: the policy node on arrival, and the bag readers
# (gr1-dataset, gr1-train, gr1-replay) offline. Raw encodings -> (channels, order giving RGB).
IMAGE_ENCODINGS: dict[str, tuple[int, tuple[int, int, int]]] = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "mono8": (1, (0, 0, 0)),
}
COMPRESSED_FORMATS = ("jpeg", "png")
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
MAX_IMAGE_SIDE = 8192  # larger frames are a corrupt header, not a camera
MIN_IMAGE_SIDE = 8  # smaller frames carry nothing the model can use (Observation.validate agrees)
MAX_IMAGE_PIXELS = 4096 * 4096  # a compressed frame's own header is checked before decoding
# The live node wants colour: a mono8 frame on a colour topic is a misconfigured camera (or a
# second publisher), and the policy's colour words ("the red block") would mean nothing.
COLOUR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8")


class ImageError(ValueError):
    """A camera message that cannot be a frame; the message names the field and the rule."""


def image_type(msgtype: str) -> str | None:
    """Why a topic of type `msgtype` cannot carry camera frames (None: it can)."""
    name = msgtype.replace("/msg/", "/")
    if name in {t.replace("/msg/", "/") for t in IMAGE_TYPES}:
        return None
    return (f"has type {msgtype or 'unknown'}, not a camera image "
            f"({' or '.join(IMAGE_TYPES)})")


def _side_check(w: int, h: int) -> None:
    if not (MIN_IMAGE_SIDE <= h <= MAX_IMAGE_SIDE and MIN_IMAGE_SIDE <= w <= MAX_IMAGE_SIDE):
        raise ImageError(f"image size {w}x{h} is outside {MIN_IMAGE_SIDE}..{MAX_IMAGE_SIDE} px")


def image_to_rgb(msg: object, *, encodings: Sequence[str] | None = None,
                 max_pixels: int | None = None) -> np.ndarray:
    """sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8) or CompressedImage (jpeg, png) ->
    contiguous uint8 HxWx3 RGB (a copy). Raises ImageError (a ValueError) naming the problem:
    unsupported encoding, a size out of range, a step shorter than a row, data whose length is not
    step*height, or compressed data that does not decode.

    encodings: the raw encodings accepted (default: all of IMAGE_ENCODINGS; the live node passes
    COLOUR_ENCODINGS); max_pixels: width*height above which a frame is refused before decoding."""
    if hasattr(msg, "encoding"):
        return _raw_to_rgb(msg, encodings, max_pixels)
    if hasattr(msg, "format") and hasattr(msg, "data"):
        return _compressed_to_rgb(msg, max_pixels)
    raise ImageError(f"{type(msg).__name__} is not a camera image ({' or '.join(IMAGE_TYPES)})")


def raw_image_header(encoding: str, width: int, height: int, step: int, data_len: int,
                     encodings: Sequence[str] | None = None,
                     max_pixels: int | None = None) -> int:
    """The checks of a raw frame that need only its header (no pixel is touched, so a huge or
    lying frame costs nothing): returns the number of channels or raises ImageError."""
    allowed = tuple(encodings) if encodings is not None else tuple(IMAGE_ENCODINGS)
    enc = str(encoding).lower()
    if enc not in IMAGE_ENCODINGS or enc not in allowed:
        raise ImageError(f"encoding {encoding!r} is not supported (use one of {', '.join(allowed)})")
    channels = IMAGE_ENCODINGS[enc][0]
    h, w, step = int(height), int(width), int(step)
    _side_check(w, h)
    if max_pixels is not None and w * h > max_pixels:
        raise ImageError(f"image size {w}x{h} = {w * h} px is above the limit of {max_pixels} px "
                         f"(max_image_pixels)")
    row = w * channels
    if step < row:
        raise ImageError(f"step {step} is smaller than width*{channels} = {row}")
    if data_len != step * h:
        raise ImageError(f"data has {data_len} bytes, expected step*height = {step * h}")
    return channels


def _raw_to_rgb(msg, encodings: Sequence[str] | None = None,
                max_pixels: int | None = None) -> np.ndarray:
    data = msg.data
    channels = raw_image_header(msg.encoding, msg.width, msg.height, msg.step, len(data),
                                encodings, max_pixels)
    order = IMAGE_ENCODINGS[str(msg.encoding).lower()][1]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    try:
        flat = np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError):  # a list of ints
        flat = np.asarray(data, dtype=np.uint8)
    pixels = flat.reshape(h, step)[:, :w * channels].reshape(h, w, channels)
    if channels == 3 and order == (0, 1, 2):
        return np.array(pixels, copy=True, order="C")  # a plain copy: no fancy indexing
    if channels >= 3 and order == (2, 1, 0):
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    return np.ascontiguousarray(pixels[:, :, list(order)])


def _compressed_to_rgb(msg, max_pixels: int | None = None) -> np.ndarray:
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    fmt = str(msg.format).lower()
    if not any(f in fmt for f in COMPRESSED_FORMATS) and fmt not in ("", "jpg"):
        raise ImageError(f"compressed format {msg.format!r} is not supported "
                         f"(use one of {', '.join(COMPRESSED_FORMATS)})")
    raw = np.asarray(msg.data, dtype=np.uint8).tobytes()
    if not raw:
        raise ImageError("compressed image has no data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as img:
                if img.format not in ("JPEG", "PNG"):
                    raise ImageError(f"compressed data is {img.format}, not JPEG or PNG")
                w, h = img.size
                _side_check(w, h)
                if w * h > min(MAX_IMAGE_PIXELS, max_pixels or MAX_IMAGE_PIXELS):
                    raise ImageError(f"compressed image of {w}x{h} px is too large")
                rgb = np.asarray(img.convert("RGB"))
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        what = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ImageError(f"compressed image ({msg.format or 'no format'}) does not decode: "
                         f"{what}") from None
    return np.ascontiguousarray(rgb)


def same_size(label: str, sizes: Sequence[tuple[int, int]]) -> str | None:
    """All frames of one camera in one episode have one size (H, W); names the first change."""
    for i, s in enumerate(sizes[1:], start=1):
        if tuple(s) != tuple(sizes[0]):
            return (f"{label} changes size at frame {i}: {sizes[0][1]}x{sizes[0][0]} -> "
                    f"{s[1]}x{s[0]} px (one camera must keep one resolution per episode)")
    return None
