"""The bridge's physics thread (`PhysicsLoop`, a part of `BridgeNode`): against the wall clock,
every 1/update_rate s it takes the twist the Servo gate lets through, keeps the TCP in the
workspace box, advances the scene and publishes /joint_states and the TCP pose; at 10 Hz also
the blocks' poses and the episode JSON (with the task's success detector updated).

It uses the node's `p` (parameters), `_lock`, `_scene`, `_gate`, `_ws_min`/`_ws_max`,
`_task_episode`, publishers and `_step_durations`, all made in `BridgeNode.__init__`.
"""

from __future__ import annotations

import json
import time

from std_msgs.msg import String

from gr1_sim import bridge_messages as messages
from gr1_sim.servo_gate import limit_to_workspace
from gr1_sim.tasks import SceneSnapshot

MAX_CATCH_UP = 0.1  # s: a physics loop further behind than this skips ahead instead of racing
BLOCK_POSES_RATE = 10.0  # Hz; ground truth for evaluation, not an input of the policy


class PhysicsLoop:
    def _physics_loop(self) -> None:
        period = 1.0 / self.p["update_rate"]
        sim_dt = period * self.p["real_time_factor"]
        self._render_ready.wait(timeout=10.0)
        next_time = time.monotonic()
        while self._running and self.context.ok():
            try:
                self._physics_tick(sim_dt)
            except Exception as err:  # keep the node alive and say what happened
                if not self.context.ok():
                    break  # ROS is shutting down (Ctrl-C): nothing to publish to any more
                self._warn_throttled("physics", f"physics step failed: {err!r}")
            next_time += period
            delay = next_time - time.monotonic()
            if delay > 0.0:
                time.sleep(delay)
            elif -delay > MAX_CATCH_UP:
                self._warn_throttled("behind", f"physics fell {-delay:.3f} s behind real time "
                                     "(CPU busy?); skipping ahead", period=10.0)
                next_time = time.monotonic()

    def _physics_tick(self, sim_dt: float) -> None:
        started = time.perf_counter()
        with self._lock:
            now = self._now()
            twist = self._gate.twist_world(now, self._scene.tcp_matrix())
            position, quat = self._scene.tcp_pose()
            twist = limit_to_workspace(twist, position, self._ws_min, self._ws_max)
            self._scene.step(twist, sim_dt)
            position, quat = self._scene.tcp_pose()
            names, q, qd = self._scene.joint_state()
            self._ticks += 1
            every = max(1, round(self.p["update_rate"] / BLOCK_POSES_RATE))
            blocks = self._scene.block_poses() if self._ticks % every == 0 else None
            state = None
            if blocks is not None:
                if self._task_episode is not None:
                    self._task_episode.update(SceneSnapshot.of(self._scene), self._scene.time)
                state = self._episode_state()
        self._step_durations.append(time.perf_counter() - started)
        self.physics_rate.tick(time.monotonic())
        stamp = self.get_clock().now().to_msg()
        self._joint_pub.publish(messages.joint_state(stamp, names, q, qd))
        pose = messages.pose_stamped(stamp, self.p["frame_id"], position, quat)
        self._pose_pub.publish(pose)
        if self._tf is not None:
            self._tf.publish(stamp, position, quat)
        if blocks is not None:
            self._blocks_pub.publish(messages.block_poses(pose.header, blocks, self._block_order))
            self._episode_pub.publish(String(data=json.dumps(state)))
