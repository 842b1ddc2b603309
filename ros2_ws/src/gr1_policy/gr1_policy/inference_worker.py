"""The model runs here, decoupled from the control timer.

The control tick posts the newest checked observation (`submit`, replacing one not yet started);
a worker thread runs `PolicyRunner.step` on it and leaves the result for the next tick
(`take_result`). The same `_run` is used inline in sync mode, so both modes share one code path.

The runner is only ever touched from one thread at a time (the worker, or the tick in sync mode),
and resets for a new instruction happen on that thread too, just before the first step of the new
episode: a reset can therefore never interleave with a step.
No ROS here: timestamps are plain seconds supplied by the node.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from gr1_core.types import Action, Observation


@dataclass
class Job:
    episode: int  # the node's episode counter; a change means reset(instruction) first
    instruction: str
    observation: Observation
    input_stamp: float  # [s] newest input stamp of the observation (ROS time)


@dataclass
class Result:
    job: Job
    action: Action | None  # None when the step raised
    error: str | None = None
    inference_time: float = 0.0  # [s] wall time of runner.step
    info: dict[str, Any] = field(default_factory=dict)


class InferenceWorker:
    def __init__(self, runner: Any) -> None:
        self._runner = runner
        self._episode: int | None = None
        self._cond = threading.Condition()
        self._pending: Job | None = None
        self._result: Result | None = None
        self._running = False
        self._thread: threading.Thread | None = None
        self.superseded = 0  # results overwritten before a tick took them
        self.steps = 0

    # --- used by the control tick --------------------------------------------------------
    def submit(self, job: Job) -> None:
        with self._cond:
            self._pending = job
            self._cond.notify()

    def take_result(self) -> Result | None:
        with self._cond:
            result, self._result = self._result, None
            return result

    def run_sync(self, job: Job) -> Result:
        return self._run(job)

    # --- thread lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="gr1-inference", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current step; drop anything pending."""
        with self._cond:
            self._running = False
            self._pending = None
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._cond:
            self._result = None

    def forget_episode(self) -> None:
        """Force a runner reset before the next step (e.g. after deactivate/activate)."""
        self._episode = None

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._running and self._pending is None:
                    self._cond.wait()
                if not self._running:
                    return
                job, self._pending = self._pending, None
            result = self._run(job)
            with self._cond:
                if self._result is not None:
                    self.superseded += 1
                self._result = result

    def _run(self, job: Job) -> Result:
        try:
            if job.episode != self._episode:
                self._runner.reset(job.instruction)
                self._episode = job.episode
            t0 = time.perf_counter()
            action = self._runner.step(job.observation)
            dt = time.perf_counter() - t0
        except Exception as exc:  # a model failure must stop motion, not kill the node
            self._episode = None  # the runner's history is suspect: reset next time
            return Result(job, None, error=f"model step failed: {type(exc).__name__}: {exc}")
        self.steps += 1
        return Result(job, action, inference_time=dt, info=dict(action.info))
