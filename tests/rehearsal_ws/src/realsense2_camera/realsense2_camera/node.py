"""realsense2_camera_node, TEST STAND-IN: one simulated RealSense colour stream.

Outside, what realsense-ros 4.x offers for a colour-only camera: `~/color/image_raw`
(sensor_msgs/Image, rgb8 or bgr8 at `rgb_camera.color_profile`, QoS `color_qos`, default
SYSTEM_DEFAULT) and `~/color/camera_info` (QoS `color_info_qos`, default DEFAULT), frame id
`<camera_name>_color_optical_frame`. With the launch file's namespace `camera` and node name
`static`, that is /camera/static/color/image_raw.

Inside, one of the MuJoCo bridge's renders (see gr1_rehearsal): serial 000000000001 is the
static view, 000000000002 the wrist view. The renders are square, the views the shipped policy
was trained on; they are stretched to the profile's size, and the policy's preprocessing
(gr1_core.processors.ImageProcessor: a plain resize to a square) undoes the stretch, so the
policy sees what it saw in training. Stamps are the render's, so the two cameras stay in sync.

Strict: unknown parameters, wrong types, a profile no D4xx colour sensor offers, a format other
than RGB8/BGR8, an unknown serial and a disabled colour stream are refused.
"""

from __future__ import annotations

import numpy as np
from gr1_rehearsal import SIM_TOPICS, fail, run, unknown_overrides
from rclpy.node import Node
from rclpy.qos import (
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
    qos_profile_services_default,
    qos_profile_system_default,
)
from sensor_msgs.msg import CameraInfo, Image

DEVICES = {"000000000001": "static", "000000000002": "wrist"}  # serial -> simulated view
_QOS = {
    "SYSTEM_DEFAULT": qos_profile_system_default,
    "DEFAULT": QoSProfile(depth=10),
    "SENSOR_DATA": qos_profile_sensor_data,
    "SERVICES_DEFAULT": qos_profile_services_default,
}
# Colour profiles of the D4xx RGB sensor (width, height) and frame rates.
_SIZES = {(320, 180), (320, 240), (424, 240), (640, 360), (640, 480), (848, 480), (960, 540),
          (1280, 720), (1920, 1080)}
_FPS = {6, 15, 30, 60}
PARAMETERS = {  # name -> default (its type is the parameter's type)
    "camera_name": "camera", "camera_namespace": "camera", "serial_no": "", "usb_port_id": "",
    "device_type": "", "initial_reset": False, "enable_color": True,
    "rgb_camera.color_profile": "640,480,30", "rgb_camera.color_format": "RGB8",
    "rgb_camera.enable_auto_exposure": True, "rgb_camera.exposure": 166,
    "rgb_camera.gain": 64, "rgb_camera.enable_auto_white_balance": True,
    "rgb_camera.white_balance": 4600.0, "enable_depth": True, "enable_infra1": False,
    "enable_infra2": False, "enable_gyro": False, "enable_accel": False, "enable_sync": False,
    "align_depth.enable": False, "pointcloud.enable": False, "publish_tf": True,
    "tf_publish_rate": 0.0, "base_frame_id": "link", "color_qos": "SYSTEM_DEFAULT",
    "color_info_qos": "DEFAULT", "depth_module.depth_profile": "848,480,30",
}


def parse_profile(text: str) -> tuple[int, int, int]:
    parts = text.replace("x", ",").split(",")
    try:
        width, height, fps = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"rgb_camera.color_profile {text!r} is not width,height,fps") from None
    if (width, height) not in _SIZES or fps not in _FPS or (width == 1920 and fps > 30):
        raise ValueError(f"rgb_camera.color_profile {text!r} is not a profile of the D4xx colour "
                         f"sensor (sizes {sorted(_SIZES)}, fps {sorted(_FPS)})")
    return width, height, fps


class Camera(Node):
    def __init__(self) -> None:
        super().__init__("camera")  # the launch file renames it (static, wrist)
        unknown = unknown_overrides(self, set(PARAMETERS))
        if unknown:
            fail(self, f"unknown parameters {unknown}: realsense2_camera has no such parameter")
        try:
            p = {name: self.declare_parameter(name, default).value
                 for name, default in PARAMETERS.items()}
        except Exception as exc:  # InvalidParameterTypeException and friends
            fail(self, f"bad parameter: {exc}")
        if not p["enable_color"]:
            fail(self, "enable_color is false: this camera would publish no colour stream")
        if p["rgb_camera.color_format"] not in ("RGB8", "BGR8"):
            fail(self, f"rgb_camera.color_format {p['rgb_camera.color_format']!r}: the policy "
                 "needs RGB8 (or BGR8)")
        try:
            self.width, self.height, self.fps = parse_profile(p["rgb_camera.color_profile"])
        except ValueError as exc:
            fail(self, str(exc))
        for key in ("color_qos", "color_info_qos"):
            if p[key] not in _QOS:
                fail(self, f"{key} {p[key]!r} is not one of {sorted(_QOS)}")
        serial = p["serial_no"].lstrip("_")  # realsense-ros strips a leading underscore
        name = p["camera_name"]
        if serial:
            if serial not in DEVICES:
                fail(self, f"no RealSense with serial {serial!r} is connected (simulated: "
                     f"{sorted(DEVICES)})")
            view = DEVICES[serial]
        else:
            view = name if name in DEVICES.values() else "static"
            self.get_logger().warning(
                "serial_no is empty: attaching to the first device found; with two cameras "
                "connected that may be the other one. Set both serials. (The stand-in picks the "
                f"{view} view from camera_name.)")
        self.bgr = p["rgb_camera.color_format"] == "BGR8"
        self.frame_id = f"{name}_color_optical_frame"
        self._image_pub = self.create_publisher(Image, "~/color/image_raw", _QOS[p["color_qos"]])
        self._info_pub = self.create_publisher(CameraInfo, "~/color/camera_info",
                                               _QOS[p["color_info_qos"]])
        sim_qos = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(Image, SIM_TOPICS[f"{view}_image"], self._on_frame, sim_qos)
        self.create_subscription(CameraInfo, SIM_TOPICS[f"{view}_info"], self._on_info, sim_qos)
        self._index: tuple[np.ndarray, np.ndarray] | None = None
        self._info: CameraInfo | None = None
        self._last_stamp = -1.0
        self.get_logger().info(
            f"RealSense {serial or '(first found)'} attached (simulated {view} view): colour "
            f"{self.width}x{self.height} at {self.fps} fps "
            f"{p['rgb_camera.color_format']} on {self._image_pub.topic_name}, QoS "
            f"{p['color_qos']}, frame {self.frame_id}")

    def _on_info(self, msg: CameraInfo) -> None:
        sx, sy = self.width / msg.width, self.height / msg.height
        info = CameraInfo()
        info.header.frame_id = self.frame_id
        info.width, info.height = self.width, self.height
        info.distortion_model = "plumb_bob"
        info.d = [0.0] * 5
        k = list(msg.k)
        info.k = [k[0] * sx, 0.0, k[2] * sx, 0.0, k[4] * sy, k[5] * sy, 0.0, 0.0, 1.0]
        info.r = list(msg.r)
        info.p = [info.k[0], 0.0, info.k[2], 0.0, 0.0, info.k[4], info.k[5], 0.0, 0.0, 0.0, 1.0,
                  0.0]
        self._info = info

    def _on_frame(self, msg: Image) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        if stamp - self._last_stamp < 1.0 / self.fps - 0.005:
            return  # the profile's frame rate is the most this camera delivers
        self._last_stamp = stamp
        src = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, 3)
        if self._index is None or self._index[0].shape[0] != self.height:
            rows = (np.arange(self.height) * msg.height) // self.height
            cols = (np.arange(self.width) * msg.width) // self.width
            self._index = (rows[:, None], cols[None, :])
        frame = src[self._index]
        if self.bgr:
            frame = frame[..., ::-1]
        out = Image()
        out.header.stamp = msg.header.stamp
        out.header.frame_id = self.frame_id
        out.height, out.width = self.height, self.width
        out.encoding = "bgr8" if self.bgr else "rgb8"
        out.step = self.width * 3
        out.data = np.ascontiguousarray(frame).tobytes()
        self._image_pub.publish(out)
        if self._info is not None:
            self._info.header.stamp = msg.header.stamp
            self._info_pub.publish(self._info)


def main() -> None:
    run(Camera)
