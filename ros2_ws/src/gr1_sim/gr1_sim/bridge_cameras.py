"""The bridge's camera thread (`CameraLoop`, a part of `BridgeNode`): renders both cameras from a
copy of the scene's joint positions with its own MjData and GL contexts (so slow software
rendering never stalls physics), publishes each frame as an rgb8 Image with its CameraInfo at
camera_rate (or as fast as it renders), and hands the frames to in-process listeners.

It uses the node's `p`, `_lock`, `_scene`, `_cameras` (one dict per camera: name, size,
frame_id, CameraInfo, publishers), `_render_durations`, `_frames`, `_frame_listeners` and the
`_render_ready` event that physics waits on, all made in `BridgeNode.__init__`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from gr1_sim import bridge_messages as messages
from gr1_sim.scene import SceneRenderer


class CameraLoop:
    def _render_loop(self) -> None:
        renderer = SceneRenderer(self._scene.model)  # GL contexts belong to this thread
        period = 1.0 / self.p["camera_rate"]
        try:
            with self._lock:
                qpos = self._scene.qpos()
            for cam in self._cameras:  # first renders create the GL contexts
                renderer.render(qpos, cam["camera"], cam["width"], cam["height"])
        except Exception as err:
            self.get_logger().error(
                f"cannot render the cameras: {err!r}. Headless machines need MUJOCO_GL=egl (the "
                "default) or osmesa, with the EGL / OSMesa libraries installed.")
            self._render_ready.set()
            renderer.close()
            return
        self._render_ready.set()
        next_time = time.monotonic()
        try:
            while self._running and self.context.ok():
                with self._lock:
                    qpos = self._scene.qpos()
                stamp = self.get_clock().now().to_msg()
                for cam in self._cameras:
                    started = time.perf_counter()
                    frame = renderer.render(qpos, cam["camera"], cam["width"], cam["height"])
                    self._render_durations[cam["camera"]].append(time.perf_counter() - started)
                    self._publish_frame(cam, frame, stamp)
                self.camera_rate.tick(time.monotonic())
                next_time += period
                delay = next_time - time.monotonic()
                if delay > 0.0:
                    time.sleep(delay)
                else:  # rendering is the bottleneck: go on as fast as it renders
                    next_time = time.monotonic()
        except Exception as err:
            if self.context.ok():  # otherwise ROS is shutting down and publishing just failed
                self.get_logger().error(f"camera rendering stopped: {err!r}")
        finally:
            renderer.close()

    def _publish_frame(self, cam: dict, frame: np.ndarray, stamp) -> None:
        cam["image_pub"].publish(messages.image(frame, cam["frame_id"], stamp))
        info = cam["info"]
        info.header.stamp = stamp
        cam["info_pub"].publish(info)
        self._frames[cam["camera"]] = frame
        for listener in list(self._frame_listeners):
            listener(cam["camera"], frame)

    def latest_frames(self) -> dict[str, np.ndarray]:
        """The newest rendered frame per camera ("static", "wrist"), uint8 HxWx3."""
        return dict(self._frames)

    def add_frame_listener(self, listener: Callable[[str, np.ndarray], None]) -> None:
        """Call `listener(camera, frame)` from the render thread for every frame published."""
        self._frame_listeners.append(listener)
