"""Our self-describing checkpoint: a directory that rebuilds the model without other files.

    config.json         {"format": FORMAT, "model": GR1Config, "meta": {...}}
    model.safetensors   the full state dict, frozen encoders included (fp32, or fp16 / bf16
                        when saved with `dtype=`; loading casts back to the model's fp32), except
                        a frozen MiniLM text tower: its weights are the installed package's,
                        checked by sha256 when read (90 MB that every such checkpoint shares)
    preprocessor.json   image and state processors
    postprocessor.json  action processor
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gr1_core.config import ConfigError, GR1Config
from gr1_core.model import GR1
from gr1_core.processors import ProcessorError, Processors

FORMAT = "gr1-ros/checkpoint/v1"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
PREPROCESSOR_FILE = "preprocessor.json"
POSTPROCESSOR_FILE = "postprocessor.json"
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class CheckpointError(RuntimeError):
    """A checkpoint directory is missing, incomplete, corrupt or does not fit its config."""


def save_pretrained(
    model: GR1, processors: Processors, path: str | Path, meta: dict[str, Any] | None = None,
    dtype: str | None = None, extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write `model` and `processors` as checkpoint directory `path`, atomically.

    The files are written into a temporary sibling folder that is renamed to `path` when all are
    written; an existing `path` is replaced whole, so nothing of an older checkpoint (ONNX graphs,
    a trainer state) outlives it, and a crash or SIGINT leaves the old checkpoint or none.
    `extra(folder)` writes more files into the folder first (gr1-train's trainer_state.pt).
    `dtype` ("float32", "float16", "bfloat16") stores the floating-point weights in that type to
    halve the file (a shipped checkpoint); `load_pretrained` casts them back to the model's fp32.
    None keeps the tensors' own types. Callers that must not replace a checkpoint check first
    (gr1_core.cli_support.check_output).
    """
    from gr1_core.cli_support import atomic_dir

    if dtype is not None and dtype not in STORAGE_DTYPES:
        raise ValueError(f"dtype must be one of {sorted(STORAGE_DTYPES)} or None, got {dtype!r}")
    path = Path(path)
    with atomic_dir(path) as tmp:
        _write_files(model, processors, tmp, meta, dtype)
        if extra is not None:
            extra(tmp)
    return path


def _write_files(model: GR1, processors: Processors, path: Path, meta: dict[str, Any] | None,
                 dtype: str | None) -> None:
    path.chmod(0o755)  # mkdtemp-like folders are private; containers read as other users
    external = _external_prefix(model.config)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()
             if not (external and k.startswith(external))}
    if dtype is not None:
        state = {k: v.to(STORAGE_DTYPES[dtype]) if v.is_floating_point() else v
                 for k, v in state.items()}
    save_file(state, str(path / WEIGHTS_FILE), metadata={"format": FORMAT})
    (path / WEIGHTS_FILE).chmod(0o644)  # safetensors writes 0600; containers read as other users
    config = {"format": FORMAT, "model": model.config.to_dict(), "meta": dict(meta or {})}
    _write_json(path / CONFIG_FILE, config)
    _write_json(path / PREPROCESSOR_FILE, processors.preprocessor_dict())
    _write_json(path / POSTPROCESSOR_FILE, processors.postprocessor_dict())


def load_config(path: str | Path) -> tuple[GR1Config, dict[str, Any]]:
    """(model config, meta) of a checkpoint directory, without reading the weights."""
    path = _checked_dir(path)
    data = _read_json(path / CONFIG_FILE)
    fmt = data.get("format") if isinstance(data, dict) else None
    if fmt != FORMAT:
        raise CheckpointError(
            f"{path / CONFIG_FILE} has format {fmt!r}, expected {FORMAT!r}; official GR-1 files "
            "are converted with gr1-convert"
        )
    try:
        config = GR1Config.from_dict(data.get("model"))
    except ConfigError as e:
        raise CheckpointError(f"{path / CONFIG_FILE}: {e}") from e
    meta = data.get("meta") or {}
    return config, meta


def load_processors(path: str | Path) -> Processors:
    """The pre- and post-processors saved in a checkpoint directory, without the weights."""
    path = _checked_dir(path)
    pre = _read_json(path / PREPROCESSOR_FILE)
    post = _read_json(path / POSTPROCESSOR_FILE)
    try:
        return Processors.from_dict({**pre, **post})
    except (ProcessorError, TypeError) as e:
        raise CheckpointError(f"{path}: bad processor files: {e}") from e


def load_pretrained(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[GR1, Processors, dict[str, Any]]:
    """Rebuild (model in eval mode, processors, meta) from a checkpoint directory."""
    path = _checked_dir(path)
    config, meta = load_config(path)
    processors = load_processors(path)
    state = read_weights(path, config)
    model = GR1(config)
    load_state_strict(model, state, str(path / WEIGHTS_FILE))
    return model.to(device).eval(), processors, meta


def read_weights(path: str | Path, config: GR1Config) -> dict[str, torch.Tensor]:
    """The state dict of checkpoint directory `path`, on the CPU, with a frozen MiniLM text
    tower filled in from the installed package when the file leaves it out."""
    weights = Path(path) / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{weights} is missing; the checkpoint is incomplete")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights} cannot be read (corrupt or truncated?): {e}") from e
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(
            f"{weights} holds NaN or infinite weights in {len(bad)} tensors (first: {bad[:3]}); "
            "the run that wrote it diverged or the file is damaged: use an earlier checkpoint")
    external = _external_prefix(config)
    if external and not any(k.startswith(external) for k in state):
        from gr1_core.model.minilm_text import load_package_weights

        try:
            state.update(load_package_weights(external))
        except (FileNotFoundError, ValueError) as e:
            raise CheckpointError(f"{path}: its frozen MiniLM text tower cannot be read: {e}") from e
    return state


def new_model(config: GR1Config) -> GR1:
    """A freshly initialised GR1 whose frozen MiniLM text tower, if it has one, already holds
    the package's pre-trained weights (the ones its checkpoints will be read with)."""
    model = GR1(config)
    external = _external_prefix(config)
    if external:
        from gr1_core.model.minilm_text import load_package_weights

        model.load_state_dict(load_package_weights(external), strict=False)
    return model


def _external_prefix(config: GR1Config) -> str | None:
    """State-dict prefix of the weights a checkpoint does not store: a frozen MiniLM tower."""
    return "model_minilm." if config.text_encoder == "minilm" and config.freeze_text else None


def load_state_strict(model: GR1, state: dict[str, torch.Tensor], source: str) -> None:
    """Load a full state dict, raising CheckpointError that lists missing, unexpected and
    mis-shaped keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (first: {missing[:5]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (first: {unexpected[:5]})")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatches ({'; '.join(shapes[:5])})")
    dtypes = [k for k, v in expected.items() if k in state
              and state[k].is_floating_point() != v.is_floating_point()]
    if dtypes:
        problems.append(f"{len(dtypes)} tensors of the wrong kind (first: {dtypes[:5]})")
    if problems:
        raise CheckpointError(
            f"{source} does not fit its config: " + ", ".join(problems)
            + ". The weights and config.json come from different models."
        )
    # Weights stored as fp16 / bf16 (save_pretrained(dtype=...)) come back in the model's dtype.
    state = {k: v.to(expected[k].dtype) if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(state, strict=True)


def _checked_dir(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint directory {path} does not exist")
    if not path.is_dir():
        raise CheckpointError(
            f"{path} is a file; a checkpoint is a directory with {CONFIG_FILE} and {WEIGHTS_FILE}"
        )
    return path


def _read_json(file: Path) -> Any:
    if not file.is_file():
        raise CheckpointError(f"{file} is missing; the checkpoint is incomplete")
    try:
        return json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{file} is not valid JSON: {e}") from e


def _write_json(file: Path, data: Any) -> None:
    from gr1_core.cli_support import finite_json

    file.write_text(json.dumps(finite_json(data), indent=2, sort_keys=False, allow_nan=False) + "\n")
