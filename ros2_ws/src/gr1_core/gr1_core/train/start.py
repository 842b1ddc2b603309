"""Where a run starts: a checkpoint to resume (its config, weights and trainer state), an --init
checkpoint (whole, or the modules --init-modules names), or a fresh model of a preset; the
processors that go with it; which modules train.
"""

from __future__ import annotations

from pathlib import Path

import torch

from gr1_core.checkpoint import load_config, load_processors, new_model, read_weights
from gr1_core.config import GR1Config
from gr1_core.model.gr1 import GR1
from gr1_core.processors import ActionProcessor, Processors
from gr1_core.train.checkpoints import STATE_FILE, load_trainer_state
from gr1_core.train.options import INIT_SETTABLE, TrainOptions
from gr1_core.train.token_noise import add_token_noise


def start_config(opts: TrainOptions, resume_dir: Path | None
                 ) -> tuple[dict | None, Path | None, GR1Config | None, GR1Config]:
    """(trainer state of `resume_dir` or None, the checkpoint the weights come from or None, its
    config or None, the run's config with --set applied)."""
    # Read (safely) before any long work: a damaged or foreign state fails here, not after caching.
    resume_state = load_trainer_state(resume_dir / STATE_FILE) if resume_dir else None
    source = resume_dir or (Path(opts.init) if opts.init else None)
    # The source's own config says which weights its file holds (a frozen MiniLM tower: none).
    source_config = load_config(source)[0] if source else None
    config = source_config or GR1Config.preset(opts.preset)
    if opts.overrides:
        changed = config.with_overrides(dict(opts.overrides))
        # A resumed or initialised run keeps the config saved with its weights; repeating the
        # --set it was started with is fine (re-running the same command with --resume). From
        # --init, fields that change how the weights train but not their shapes may change
        # (e.g. freeze_text=true, so a text tower trained on is not pulled onto one line).
        new, old = changed.to_dict(), config.to_dict()
        differs = sorted(f for f in new if new[f] != old[f])
        if source and differs and (resume_dir or not set(differs) <= INIT_SETTABLE):
            raise ValueError(f"--set {' '.join(f'{k}={v}' for k, v in opts.overrides)} differs "
                             f"from the config saved in {source} in {differs}; a run's sizes "
                             f"cannot change (from --init only {sorted(INIT_SETTABLE)} can)")
        config = changed
    return resume_state, source, source_config, config


def start_model(opts: TrainOptions, config: GR1Config, source: Path | None,
                source_config: GR1Config | None, resuming: bool,
                device: torch.device) -> tuple[GR1, Processors, bool]:
    """(the model on `device` in train mode, its processors, whether the state processor came
    from `source`)."""
    partial = bool(opts.init_modules) and not resuming  # a resumed run has all its weights
    # Weights read whole from a source already hold the text tower; only a fresh or partial start
    # needs the pre-trained one put in first.
    model = GR1(config) if source and not partial else new_model(config)
    if source:
        weights_in = read_weights(source, source_config)
        if partial:
            weights_in = select_modules(model, weights_in, opts.init_modules)
        missing, unexpected = model.load_state_dict(weights_in, strict=False)
        if unexpected or (missing and not opts.init):
            raise RuntimeError(f"{source}: weights do not fit the model (missing {missing[:5]}, "
                               f"unexpected {unexpected[:5]})")
    model.to(device).train()
    # A started model keeps the state processor it was trained with (the image one follows the
    # config); a fresh one, or one whose state embedding starts fresh, reads raw poses, as GR-1
    # does.
    state_inherited = bool(source) and (not partial or "embed_arm_state" in opts.init_modules)
    processors = Processors.for_config(config)
    if state_inherited:
        processors.state = load_processors(source).state
    # The labels are per-tick deltas at --rate; the runtime converts them to velocities with it.
    processors.action = ActionProcessor(rate_hz=opts.rate)
    return model, processors, state_inherited


def set_trainable(model: GR1, opts: TrainOptions) -> list[torch.nn.Parameter]:
    """--train-modules / --freeze-modules (and --token-noise's hook on the language token);
    returns the parameters the optimiser updates."""
    for names, flag in ((opts.train_modules, "--train-modules"),
                        (opts.freeze_modules, "--freeze-modules")):
        check_module_names(model, names, flag)
    for name, p in model.named_parameters():
        top = name.split(".")[0]
        if (opts.train_modules and top not in opts.train_modules) or top in opts.freeze_modules:
            p.requires_grad_(False)
    if opts.token_noise:
        add_token_noise(model.embed_lang, opts.token_noise)
    return [p for p in model.parameters() if p.requires_grad]


def select_modules(model: GR1, weights: dict[str, torch.Tensor], names: tuple[str, ...],
                   what: str = "--init-modules") -> dict[str, torch.Tensor]:
    """The entries of `weights` under the model's top-level modules `names`; `what` names the
    caller in the error for an unknown name."""
    check_module_names(model, names, what)
    return {k: v for k, v in weights.items() if k.split(".")[0] in names}


def check_module_names(model: GR1, names: tuple[str, ...], what: str) -> None:
    """ValueError quoting every name in `names` that is not a top-level module of `model`."""
    known = sorted({k.split(".")[0] for k in model.state_dict()})
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"{what} {','.join(bad)}: no such module {bad}; known: {known}")
