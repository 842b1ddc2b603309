"""PolicyRunner: one GR-1 rollout with cached per-frame tokens and per-instruction text features.

The public GR-1 rollout re-encodes the whole 10-step window (20 ViT passes) and the instruction on
every step. Frame tokens do not depend on the window position (the timestep embedding is added in
``forward_policy``) and the text feature depends on the instruction only, so this runner encodes
the two new frames of each step, keeps earlier tokens in a ring buffer and looks the text feature
up in a per-instruction cache. The policy transformer itself is recomputed every step over the full
(masked) window: a KV cache would be invalid, because every slot's timestep embedding shifts when
the window slides.

Pure and single-threaded: no ROS, no locks; the caller serialises ``reset`` and ``step``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gr1_core import keys
from gr1_core.config import GR1Config
from gr1_core.processors import Processors
from gr1_core.runtime.backends import (
    DEFAULT_PRECISION,
    Backend,
    BackendError,
    check_available,
    make_backend,
)
from gr1_core.runtime.cpu_features import FASTEST
from gr1_core.runtime.graph_cache import ensure_graphs
from gr1_core.runtime.history import TokenHistory
from gr1_core.runtime.instruction import check_instruction_feature
from gr1_core.runtime.naive import NaiveRollout, naive_step
from gr1_core.runtime.video import render_prediction
from gr1_core.tokenizer import tokenizer_for
from gr1_core.types import Action, Observation

TEXT_CACHE_SIZE = 64  # instructions whose feature is kept; a task suite has a few dozen


class PolicyRunner:
    """Stateful policy: ``reset(instruction)`` starts an episode, ``step(obs)`` returns an Action.

    ``Action.info`` holds ``preprocess_ms``, ``encode_ms`` (frames, plus text on a cache miss),
    ``policy_ms``, ``total_ms``, ``history`` (real slots in the window), ``frames_encoded``,
    ``frame_cache_hits`` (frames reused from the ring buffer this step), ``text_cache_hit``,
    ``text_cache_hits`` / ``text_cache_misses`` (since construction), ``backend``, ``precision``,
    ``raw_arm`` (unclipped model output) and ``gripper_logit``. With ``video=True`` (backend built
    with video) it also holds the predicted frames ``keys.PRED_RGB_STATIC`` / ``PRED_RGB_WRIST``
    as uint8 HxWx3 RGB at the model's image size.
    """

    def __init__(
        self,
        backend: Backend,
        config: GR1Config,
        processors: Processors,
        tokenizer: Callable[[str, int], np.ndarray] | None = None,
        video: bool = False,
    ) -> None:
        if video and not hasattr(backend, "predict_video"):
            raise BackendError(f"backend {backend.name!r} cannot predict video")
        self.video = video
        self.backend = backend
        self.config = config
        self.processors = processors
        self.tokenizer = tokenizer or tokenizer_for(config)
        self.history = TokenHistory(config.window, config.tokens_per_frame, config.img_feat_dim)
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.text_cache_hits = 0
        self.text_cache_misses = 0
        self.instruction: str | None = None
        self._lang: np.ndarray | None = None
        self._text_hit_pending: bool | None = None
        self._text_ms = 0.0
        self.steps = 0  # steps since the last reset
        self.precision_choice = f"{backend.name} {backend.precision}: built by the caller"
        self.graph_dir: Path | None = None  # the ONNX graphs a graph backend runs

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        backend: str = "torch",
        precision: str | None = None,
        *,
        device: str = "cpu",
        num_threads: int | None = None,
        graph_dir: str | Path | None = None,
        export_missing: bool = True,
        video: bool = False,
        allow_spinning: bool = True,
    ) -> PolicyRunner:
        """Load a checkpoint directory and build ``backend`` at ``precision``.

        backend: torch | onnxruntime | onnxruntime-cuda | tensorrt. precision: fp32 | bf16 | int8
        (torch), fp32 | int8 (onnxruntime), fp16 (tensorrt, default); None or "auto" is the
        backend's default; "fastest" is the first reduced precision this CPU accelerates that
        passes a short accuracy check against fp32, else fp32 (runtime/precision.py; the choice
        and its reason are in ``runner.precision_choice``). Graph backends read
        ``graph_dir`` (default ``PATH/onnx``, or the user cache when that folder cannot be
        written: runtime/graph_cache.py); with ``export_missing`` the graphs are exported there
        first when absent or made from other weights (as ``gr1-export PATH`` would), and the
        folder used is ``runner.graph_dir``. ``allow_spinning=False`` keeps ONNX Runtime's idle
        threads from spinning (a node shares its cores with the executor and the cameras).
        """
        from gr1_core.checkpoint import load_pretrained

        check_available(backend)  # say what to install before loading weights or exporting
        model, processors, _meta = load_pretrained(path)
        if precision in (None, "auto"):
            precision = DEFAULT_PRECISION.get(backend, "fp32")
        fastest_ort = precision == FASTEST and backend == "onnxruntime"

        def build(precision: str) -> Backend:
            if backend == "torch":
                return make_backend(
                    "torch", model=model, precision=precision, device=device,
                    num_threads=num_threads, video=video,
                )
            # "fastest" on onnxruntime: fp32 and int8 graphs in one export
            wanted = "int8" if fastest_ort else precision
            folder = ensure_graphs(model, path, graph_dir, wanted, video, export_missing)
            return make_backend(
                backend, graph_dir=folder, precision=precision, num_threads=num_threads,
                video=video, window=model.config.window, allow_spinning=allow_spinning,
            )

        if precision == FASTEST and (backend != "torch" or device == "cpu"):
            from gr1_core.runtime.precision import resolve_fastest

            impl, reason = resolve_fastest(backend, build, model.config, processors)
        else:
            if precision == FASTEST:  # GPU: the backend's default
                precision = DEFAULT_PRECISION.get(backend, "fp32")
            impl = build(precision)
            reason = f"{backend} {precision}: asked for"
        runner = cls(impl, model.config, processors, video=video)
        runner.precision_choice = reason
        runner.graph_dir = getattr(impl, "graph_dir", None)  # graph backends keep their folder
        return runner

    # ------------------------------------------------------------------ episode
    def reset(self, instruction: str | None = None) -> None:
        """Start a new episode: clear the history; set ``instruction`` (or keep the current one).

        The text feature comes from the per-instruction cache when this instruction was seen
        before; otherwise it is encoded now (its cost is reported in the next step's encode_ms).
        """
        self.history.clear()
        self.steps = 0
        if instruction is not None:
            self._set_instruction(instruction)

    def _set_instruction(self, instruction: str) -> None:
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError(f"instruction must be a non-empty string, got {instruction!r}")
        t0 = time.perf_counter()
        lang = self._text_cache.get(instruction)
        hit = lang is not None
        if hit:
            self._text_cache.move_to_end(instruction)
            self.text_cache_hits += 1
        else:
            ids = self.tokenizer(instruction, self.config.text_context)
            lang = np.ascontiguousarray(self.backend.encode_text(ids), dtype=np.float32)
            self._text_cache[instruction] = lang
            if len(self._text_cache) > TEXT_CACHE_SIZE:
                self._text_cache.popitem(last=False)
            self.text_cache_misses += 1
        try:
            check_instruction_feature(lang, instruction)  # cached refusals are refused again
        except ValueError:
            self.instruction, self._lang = None, None  # step() must not run the previous one
            raise
        self.instruction = instruction
        self._lang = lang
        self._text_hit_pending = hit
        self._text_ms = (time.perf_counter() - t0) * 1e3

    # ------------------------------------------------------------------ step
    def preprocess(self, obs: Observation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rgb[2,3,S,S] static then wrist, arm_state[6], gripper one-hot[2]) of one observation."""
        obs.validate()
        image = self.processors.image
        rgb = np.stack((image(obs.rgb_static), image(obs.rgb_wrist))).astype(np.float32, copy=False)
        arm = self.processors.state.arm(obs.arm_state)
        grip = self.processors.state.gripper_one_hot(bool(obs.gripper_open))
        return rgb, arm, grip

    def step(self, obs: Observation) -> Action:
        """Encode the two new frames, slide the window, run the policy, decode the newest action."""
        if self._lang is None:
            raise RuntimeError("no instruction: call reset(instruction) before step()")
        t0 = time.perf_counter()
        rgb, arm, grip = self.preprocess(obs)
        t1 = time.perf_counter()
        tokens = self.backend.encode_frames(rgb)  # (2, K, D)
        t2 = time.perf_counter()
        self.history.push(tokens[0], tokens[1], arm, grip)
        n = self.history.window_inputs()
        h = self.history
        inputs = (self._lang, h.arm_state, h.gripper_state, h.static_tokens, h.wrist_tokens,
                  h.attention_mask)
        if self.video:
            arm_out, grip_out, pred_static, pred_wrist = self.backend.predict_video(*inputs)
        else:
            arm_out, grip_out = self.backend.policy(*inputs)
        t3 = time.perf_counter()
        action = self.processors.action.decode(arm_out[0, n - 1], grip_out[0, n - 1])
        t4 = time.perf_counter()
        self.steps += 1
        text_ms, self._text_ms = self._text_ms, 0.0
        text_hit, self._text_hit_pending = self._text_hit_pending, None
        action.info.update(
            preprocess_ms=(t1 - t0) * 1e3,
            encode_ms=(t2 - t1) * 1e3 + text_ms,
            policy_ms=(t3 - t2) * 1e3,
            total_ms=(t4 - t0) * 1e3 + text_ms,
            history=n,
            frames_encoded=2,
            frame_cache_hits=2 * (n - 1),
            text_cache_hit=text_hit,
            text_cache_hits=self.text_cache_hits,
            text_cache_misses=self.text_cache_misses,
            backend=self.backend.name,
            precision=self.backend.precision,
            raw_arm=np.asarray(arm_out[0, n - 1], np.float32).copy(),
            gripper_logit=float(grip_out[0, n - 1, 0]),
        )
        if self.video:
            c = self.config
            for key, pred, frame in ((keys.PRED_RGB_STATIC, pred_static, rgb[0]),
                                     (keys.PRED_RGB_WRIST, pred_wrist, rgb[1])):
                action.info[key] = render_prediction(
                    pred[0, n - 1], frame, self.processors.image, c.patch_size, c.norm_pixel_loss
                )
        return action


__all__ = ["NaiveRollout", "PolicyRunner", "naive_step"]
