"""Read the official GR-1 snapshot, the MAE ViT-B/16 and the OpenAI CLIP ViT-B/32 files.

Our module names equal the official ones, so the mapping is mostly identity. What differs:
- GR-1's GPT-2 stores attention and MLP weights as HF Conv1D, (in, out): transposed here.
- Causal-mask buffers (`attn.bias`, `attn.masked_bias`) are dropped; our mask is computed.
- DDP / torch.compile forks prefix keys with `module.` / `_orig_mod.`: stripped.
- The frozen CLIP / MAE weights may or may not be inside a snapshot; the CLIP image tower and
  `logit_scale` are never used and are dropped.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gr1_core.config import GR1Config
from gr1_core.model import GR1

CONV1D = re.compile(r"^transformer\.h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$")
GPT_BUFFERS = re.compile(r"^transformer\.h\.\d+\.attn\.(bias|masked_bias)$")
CLIP_TEXT = re.compile(
    r"^(token_embedding\.|positional_embedding$|transformer\.resblocks\.|ln_final\.|text_projection$)"
)
PREFIXES = ("module.", "_orig_mod.")


class ConvertError(RuntimeError):
    """A weight file cannot be read or does not have the expected layout."""


@dataclass
class ImportReport:
    """What an import took from where, and what it could not fill."""

    sources: dict[str, str] = field(default_factory=dict)  # our key -> source name
    ignored: list[tuple[str, str, str]] = field(default_factory=list)  # (source, key, reason)
    missing_trainable: list[str] = field(default_factory=list)
    missing_encoders: list[str] = field(default_factory=list)  # MAE / CLIP text tower
    mismatched: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # snapshot keys overridden by --mae/--clip

    @property
    def ok(self) -> bool:
        return not (self.missing_trainable or self.missing_encoders or self.mismatched)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for src in self.sources.values():
            counts[src] = counts.get(src, 0) + 1
        lines = ["loaded " + ", ".join(f"{n} tensors from {s}" for s, n in sorted(counts.items()))]
        if self.replaced:
            lines.append(
                f"{len(self.replaced)} encoder tensors of the snapshot were replaced by the "
                "separately given MAE/CLIP files"
            )
        if self.ignored:
            by_reason: dict[str, int] = {}
            for _, _, reason in self.ignored:
                by_reason[reason] = by_reason.get(reason, 0) + 1
            lines.append(
                f"ignored {len(self.ignored)} tensors: "
                + "; ".join(f"{n} {r}" for r, n in sorted(by_reason.items()))
            )
        for title, items, hint in (
            ("shape mismatches", self.mismatched, "the files come from a model of other sizes"),
            ("trainable tensors missing", self.missing_trainable,
             "the snapshot is not a GR-1 policy checkpoint, or from a fork with other names"),
            ("encoder tensors missing", self.missing_encoders,
             "pass the MAE file with --mae and the CLIP file with --clip"),
        ):
            if items:
                shown = ", ".join(items[:8]) + (" ..." if len(items) > 8 else "")
                lines.append(f"{len(items)} {title} ({hint}): {shown}")
        lines.append("OK: every tensor of the model was filled" if self.ok else "FAILED")
        return "\n".join(lines)


# ---------------------------------------------------------------------- file readers
def _torch_load(path: Path, what: str, trust_pickle: bool = False) -> object:
    if not path.is_file():
        raise ConvertError(f"{what} file {path} does not exist")
    try:
        # weights_only refuses arbitrary pickled objects (code execution on load)
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as e:  # pickle errors come in many types
        hint = "" if trust_pickle else (
            "; if the file holds other Python objects (e.g. training arguments) and you trust "
            "its origin, pass --trust-pickle"
        )
        # torch's own message runs over many lines (and ANSI codes): keep its gist on one
        first = re.sub(r"\x1b\[[0-9;]*m", "", (str(e).strip().splitlines() or [""])[0])[:200]
        if "Weights only load failed" in first:
            first = "it holds objects other than tensors, which a weights-only load refuses"
        raise ConvertError(
            f"cannot read {what} file {path} as a PyTorch checkpoint of tensors "
            f"({type(e).__name__}: {first}){hint}"
        ) from e


def _strip(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in PREFIXES:
            if key.startswith(p):
                key, changed = key[len(p):], True
    return key


def _state_dict_of(obj: object, path: Path, entries: tuple[str, ...], what: str) -> dict:
    if isinstance(obj, dict):
        for entry in entries:
            if entry in obj and isinstance(obj[entry], dict):
                return obj[entry]
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    found = sorted(obj)[:10] if isinstance(obj, dict) else type(obj).__name__
    raise ConvertError(
        f"{path} does not look like a {what} file: expected a dict with one of {list(entries)} "
        f"or a plain state dict, found {found}"
    )


def map_official_state_dict(
    state: dict[str, torch.Tensor], source: str = "snapshot"
) -> tuple[dict[str, torch.Tensor], list[tuple[str, str, str]]]:
    """Official GR-1 names and layout -> ours. Returns (mapped tensors, ignored entries)."""
    mapped: dict[str, torch.Tensor] = {}
    ignored: list[tuple[str, str, str]] = []
    for raw_key, value in state.items():
        key = _strip(raw_key)
        if not isinstance(value, torch.Tensor):
            ignored.append((source, raw_key, "non-tensor entries"))
        elif GPT_BUFFERS.match(key):
            ignored.append((source, raw_key, "GPT-2 causal-mask buffers"))
        elif key.startswith("model_clip."):
            sub = key[len("model_clip."):]
            if CLIP_TEXT.match(sub):
                mapped[key] = value.float()
            else:
                ignored.append((source, raw_key, "CLIP image-tower / logit-scale tensors (unused)"))
        elif CONV1D.match(key):
            if value.dim() != 2:
                raise ConvertError(f"{source}: {raw_key} should be a 2-D Conv1D weight, got shape {tuple(value.shape)}")
            mapped[key] = value.t().contiguous().float()  # Conv1D (in, out) -> Linear (out, in)
        else:
            mapped[key] = value.float()
    return mapped, ignored


def read_official_snapshot(
    path: str | Path, trust_pickle: bool = False
) -> tuple[dict[str, torch.Tensor], list]:
    """`snapshot_*.pt` (a dict with `state_dict`) -> (our names and layout, ignored entries)."""
    path = Path(path)
    obj = _torch_load(path, "GR-1 snapshot", trust_pickle)
    state = _state_dict_of(obj, path, ("state_dict", "model"), "GR-1 snapshot")
    return map_official_state_dict(state, source=path.name)


def read_mae(path: str | Path, trust_pickle: bool = False) -> tuple[dict[str, torch.Tensor], list]:
    """`mae_pretrain_vit_base.pth` (a dict with `model`) -> (`model_mae.*` tensors, ignored)."""
    path = Path(path)
    obj = _torch_load(path, "MAE", trust_pickle)
    state = _state_dict_of(obj, path, ("model", "state_dict"), "MAE")
    wanted = re.compile(r"^(cls_token|pos_embed|patch_embed\.proj\.|blocks\.\d+\.|norm\.)")
    mapped, ignored = {}, []
    for raw_key, value in state.items():
        key = _strip(raw_key)
        if isinstance(value, torch.Tensor) and wanted.match(key):
            mapped["model_mae." + key] = value.float()
        else:
            ignored.append((path.name, raw_key, "MAE tensors outside the encoder (head, decoder)"))
    return mapped, ignored


def _read_clip_state(path: Path, trust_pickle: bool) -> dict:
    if not path.is_file():
        raise ConvertError(f"CLIP file {path} does not exist")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            is_script = any(n.endswith("constants.pkl") or "/code/" in n for n in z.namelist())
        if is_script:
            try:
                return torch.jit.load(str(path), map_location="cpu").state_dict()
            except Exception as e:
                raise ConvertError(f"cannot read CLIP TorchScript archive {path}: {e}") from e
    obj = _torch_load(path, "CLIP", trust_pickle)
    return _state_dict_of(obj, path, ("state_dict", "model"), "CLIP")


def read_clip_text(
    path: str | Path, trust_pickle: bool = False
) -> tuple[dict[str, torch.Tensor], list]:
    """OpenAI CLIP ViT-B/32 (TorchScript archive or state dict) -> (`model_clip.*` text tower
    tensors in float32, ignored)."""
    path = Path(path)
    state = _read_clip_state(path, trust_pickle)
    mapped, ignored = {}, []
    for raw_key, value in state.items():
        key = _strip(raw_key)
        if isinstance(value, torch.Tensor) and CLIP_TEXT.match(key):
            mapped["model_clip." + key] = value.float()
        else:
            ignored.append((path.name, raw_key, "CLIP image-tower / logit-scale / metadata entries"))
    return mapped, ignored


# ---------------------------------------------------------------------- assembly
def convert_official(
    snapshot: str | Path,
    mae: str | Path | None = None,
    clip: str | Path | None = None,
    config: GR1Config | None = None,
    trust_pickle: bool = False,
) -> tuple[GR1, ImportReport]:
    """Build a GR1 (default: the `full` preset) from the official files; see ImportReport.ok."""
    config = config or GR1Config.preset("full")
    report = ImportReport()
    tensors: dict[str, torch.Tensor] = {}

    mapped, ignored = read_official_snapshot(snapshot, trust_pickle)
    report.ignored += ignored
    for k, v in mapped.items():
        tensors[k] = v
        report.sources[k] = Path(snapshot).name
    for reader, path in ((read_mae, mae), (read_clip_text, clip)):
        if path is None:
            continue
        mapped, ignored = reader(path, trust_pickle)
        report.ignored += ignored
        for k, v in mapped.items():
            if k in tensors:
                report.replaced.append(k)
            tensors[k] = v
            report.sources[k] = Path(path).name

    model = GR1(config)  # after reading, so that unreadable files fail fast
    expected = model.state_dict()
    for key in list(tensors):
        if key not in expected:
            report.ignored.append((report.sources.pop(key), key, "tensors the model does not have"))
            del tensors[key]
        elif tensors[key].shape != expected[key].shape:
            report.mismatched.append(
                f"{key} file {tuple(tensors[key].shape)} vs model {tuple(expected[key].shape)}"
            )
            del tensors[key]
    for key in expected:
        if key in tensors or key == "decoder_pos_embed":  # fixed sin-cos, rebuilt if absent
            continue
        encoder = key.startswith(("model_mae.", "model_clip."))
        (report.missing_encoders if encoder else report.missing_trainable).append(key)
    model.load_state_dict(tensors, strict=False)
    return model.eval(), report
