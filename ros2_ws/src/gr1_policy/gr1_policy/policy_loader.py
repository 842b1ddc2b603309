"""Loading the checkpoint for the node, with one plain error for everything that can go wrong."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gr1_core import keys
from gr1_core.action_mapping import ActionMapping
from gr1_policy.params import PolicyParams


class PolicyLoadError(RuntimeError):
    """The checkpoint cannot drive this robot; the message says why and what to do."""


@dataclass
class LoadedPolicy:
    runner: Any  # gr1_core.runtime.runner.PolicyRunner
    mapping: ActionMapping
    description: str  # for status.model


def check_layout(config: Any) -> None:
    """The node feeds two cameras, a 6-d TCP pose and a gripper flag, and maps a 6-d arm action.

    A checkpoint made for anything else (e.g. video-only pre-training, no action head) must fail at
    configure, not produce nonsense twists later.
    """
    if getattr(config, "video_only", False):
        raise PolicyLoadError("the checkpoint is a video-only (pre-training) model without an "
                              "action head; fine-tune it on robot data before deploying it")
    if config.arm_state_dim != keys.ARM_STATE_DIM:
        raise PolicyLoadError(f"the checkpoint expects a {config.arm_state_dim}-d arm state, the "
                              f"node provides {keys.ARM_STATE_DIM} (x, y, z, roll, pitch, yaw)")
    if config.arm_action_dim != keys.ARM_ACTION_DIM:
        raise PolicyLoadError(f"the checkpoint outputs a {config.arm_action_dim}-d arm action, the "
                              f"node maps {keys.ARM_ACTION_DIM}-d CALVIN actions")


def load_policy(cfg: PolicyParams) -> LoadedPolicy:
    from gr1_core.checkpoint import CheckpointError, load_config
    from gr1_core.resources import ResourceNotFound, resolve_path

    if not cfg.checkpoint:
        raise PolicyLoadError("parameter 'checkpoint' is empty: set it to a checkpoint directory "
                              "or package://gr1_sim/models/gr1-sim (the shipped simulator "
                              "policy); gr1-init --preset test --out DIR writes a random one")
    try:
        path = resolve_path(cfg.checkpoint)
    except ResourceNotFound as exc:
        raise PolicyLoadError(f"checkpoint {cfg.checkpoint!r}: {exc}") from exc
    try:
        config, _meta = load_config(path)  # cheap: rejects a wrong directory before the weights
        check_layout(config)
        from gr1_core.runtime.runner import PolicyRunner

        runner = PolicyRunner.from_pretrained(
            path, backend=cfg.backend,
            precision=cfg.precision,
            device=cfg.device, num_threads=cfg.num_threads or None,
            video=cfg.publish_predicted_frames,
            # ONNX Runtime's idle threads spin by default, taking the cores the executor, the
            # camera callbacks and (in simulation) MuJoCo need between model steps
            allow_spinning=False)
    except PolicyLoadError:
        raise
    except CheckpointError as exc:
        raise PolicyLoadError(f"cannot load checkpoint {path}: {exc}") from exc
    except Exception as exc:  # backend errors, missing libraries, bad graphs: all fatal here
        raise PolicyLoadError(f"cannot build the {cfg.backend} backend for {path}: "
                              f"{type(exc).__name__}: {exc}") from exc
    check_layout(runner.config)
    ap = runner.processors.action
    mapping = ActionMapping(position_scale=ap.max_delta_pos, orientation_scale=ap.max_delta_rot,
                            rate_hz=ap.rate_hz)
    chosen = f"; precision: {runner.precision_choice}" if cfg.precision == "fastest" else ""
    graphs = f"; graphs in {runner.graph_dir}" if runner.graph_dir is not None else ""
    return LoadedPolicy(runner, mapping, f"{path} ({config.name} preset){chosen}{graphs}")
