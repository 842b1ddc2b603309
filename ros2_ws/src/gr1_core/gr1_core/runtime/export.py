"""gr1-export: write the ONNX graphs of a checkpoint and check them against PyTorch.

Graphs (inputs and outputs named as in runtime/backends/base.py):

    frame_encoder.onnx  rgb[N,3,S,S] f32 -> tokens[N,K,D_img]             N dynamic (1 .. 2*window)
    text_encoder.onnx   token_ids[1,ctx] i64 -> lang[1,D_lang]            static
    policy.onnx         lang, arm_state, gripper_state, static_tokens, wrist_tokens,
                        attention_mask (full window, batch 1) -> arm_action, gripper_logit   static
    policy_video.onnx   (--video) same inputs -> + pred_rgb_static, pred_rgb_wrist
    *.int8.onnx         (--int8) dynamic int8 quantisation of frame_encoder and policy

Every graph is run in ONNX Runtime on random inputs (other shapes than the traced ones where the
graph is dynamic) and compared with PyTorch; the max abs diff of each output is printed beside its
tolerance and the export fails when one exceeds it. manifest.json records shapes, opset,
tolerances, measured diffs and the sha256 of the source weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from gr1_core.runtime.backends.base import (
    FRAME_INPUTS,
    FRAME_OUTPUTS,
    GRAPH_FILES,
    POLICY_INPUTS,
    POLICY_OUTPUTS,
    TEXT_INPUTS,
    TEXT_OUTPUTS,
    VIDEO_OUTPUTS,
)
from gr1_core.runtime.graphs import FrameEncoderGraph, PolicyGraph, TextEncoderGraph

MANIFEST_FILE = "manifest.json"
DEFAULT_OPSET = 17

# Max abs diff allowed between ONNX Runtime (CPU, fp32) and PyTorch (fp32) per graph output. Both
# compute in fp32; the differences are from kernel order (GEMM blocking, fused attention, erf),
# measured at ~1e-6 (test/sim presets) to ~2e-5 (full ViT-B) and bounded here with margin.
FP32_TOLERANCE = {
    "tokens": 5e-4,  # ViT-B: 12 blocks + 3 perceiver layers, LayerNorm outputs of order 1..10
    "lang": 1e-4,  # L2-normalised, entries of order 0.05
    "arm_action": 1e-4,
    "gripper_logit": 1e-4,
    "pred_rgb_static": 1e-3,  # per-patch-normalised pixels of order 1
    "pred_rgb_wrist": 1e-3,
}
# int8 (dynamic, weights per channel) is an approximation: the check is relative to the size of
# the output, max|onnx - torch| <= INT8_RELATIVE_TOLERANCE * max|torch|. What matters for control
# (arm diff vs fp32, gripper agreement over an episode) is measured by bench/policy_step.py.
INT8_RELATIVE_TOLERANCE = 0.15


class ExportError(RuntimeError):
    """A graph could not be written, or differs from PyTorch beyond its tolerance."""


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def example_inputs(config, rng: np.random.Generator, frames: int = 2, history: int | None = None):
    """Random inputs of every graph for ``config``: dict graph -> tuple of numpy arrays."""
    from gr1_core.tokenizer import tokenizer_for

    s, t, k, d = config.image_size, config.window, config.tokens_per_frame, config.img_feat_dim
    n = config.window if history is None else history
    rgb = rng.standard_normal((frames, 3, s, s)).astype(np.float32)
    ids = tokenizer_for(config)("push the blue block to the left", config.text_context)
    lang = rng.standard_normal((1, config.text_embed_dim)).astype(np.float32)
    lang /= np.linalg.norm(lang)
    arm = rng.standard_normal((1, t, 6)).astype(np.float32)
    grip_open = rng.integers(0, 2, size=(1, t)).astype(bool)
    grip = np.stack([~grip_open, grip_open], -1).astype(np.float32)
    static = rng.standard_normal((1, t, k, d)).astype(np.float32)
    wrist = rng.standard_normal((1, t, k, d)).astype(np.float32)
    mask = np.zeros((1, t), np.float32)
    mask[0, :n] = 1.0
    policy = (lang, arm, grip, static, wrist, mask)
    return {"frame_encoder": (rgb,), "text_encoder": (ids,), "policy": policy,
            "policy_video": policy}


def _graph_specs(model: nn.Module, video: bool) -> dict[str, dict[str, Any]]:
    specs = {
        "frame_encoder": dict(
            module=FrameEncoderGraph(model), inputs=FRAME_INPUTS, outputs=FRAME_OUTPUTS,
            dynamic_axes={"rgb": {0: "frames"}, "tokens": {0: "frames"}},
        ),
        "text_encoder": dict(
            module=TextEncoderGraph(model), inputs=TEXT_INPUTS, outputs=TEXT_OUTPUTS,
            dynamic_axes=None,
        ),
        "policy": dict(
            module=PolicyGraph(model), inputs=POLICY_INPUTS, outputs=POLICY_OUTPUTS,
            dynamic_axes=None,
        ),
    }
    if video:
        specs["policy_video"] = dict(
            module=PolicyGraph(model, predict_video=True), inputs=POLICY_INPUTS,
            outputs=POLICY_OUTPUTS + VIDEO_OUTPUTS, dynamic_axes=None,
        )
    return specs


def _export_one(spec: dict[str, Any], args: tuple[np.ndarray, ...], path: Path, opset: int) -> None:
    tensors = tuple(torch.from_numpy(a) for a in args)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # The legacy TorchScript exporter is used on purpose (no onnxscript dependency, stable
        # op set for TensorRT); its deprecation and tracer warnings are noise for these graphs.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            spec["module"], tensors, str(path), dynamo=False, opset_version=opset,
            input_names=list(spec["inputs"]), output_names=list(spec["outputs"]),
            dynamic_axes=spec["dynamic_axes"], do_constant_folding=True,
        )
    spec["module"].eval()  # the exporter restores the wrapper's mode recursively; keep eval


def _run_torch(module: nn.Module, args: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    with torch.inference_mode():
        out = module(*(torch.from_numpy(a) for a in args))
    out = out if isinstance(out, tuple) else (out,)
    return [o.float().numpy() for o in out]


def _run_onnx(path: Path, names: tuple[str, ...], args: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, dict(zip(names, args)))


def _quantize_int8(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs a generic "consider pre-processing" hint on the root logger: not useful.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul", "Gemm"],
        )
    finally:
        root.setLevel(level)


def validate_graph(
    name: str, path: Path, spec: dict[str, Any], args: tuple[np.ndarray, ...], int8: bool,
    log=print,
) -> dict[str, dict[str, float]]:
    """Compare ONNX Runtime with PyTorch on ``args``; return {output: {max_abs_diff, tolerance}}.

    Raises ExportError naming the output when a diff is over its tolerance.
    """
    ref = _run_torch(spec["module"], args)
    got = _run_onnx(path, spec["inputs"], args)
    report: dict[str, dict[str, float]] = {}
    failures = []
    for out_name, r, g in zip(spec["outputs"], ref, got):
        if r.shape != g.shape:
            raise ExportError(f"{path.name}: output {out_name} has shape {g.shape}, PyTorch {r.shape}")
        diff = float(np.max(np.abs(r.astype(np.float64) - g))) if r.size else 0.0
        if int8:
            tol = INT8_RELATIVE_TOLERANCE * float(np.max(np.abs(r)))
            rule = f"{INT8_RELATIVE_TOLERANCE} x max|ref|"
        else:
            tol = FP32_TOLERANCE[out_name]
            rule = "abs"
        ok = diff <= tol
        log(f"  {path.name:28s} {out_name:16s} max abs diff {diff:.3e}  tolerance {tol:.3e} "
            f"({rule})  {'ok' if ok else 'FAIL'}")
        report[out_name] = {"max_abs_diff": diff, "tolerance": tol}
        if not ok:
            failures.append(f"{out_name}: {diff:.3e} > {tol:.3e}")
    if failures:
        raise ExportError(
            f"{path} differs from PyTorch beyond tolerance ({'; '.join(failures)}); "
            "check the opset (--opset) and the onnxruntime version, or report the model config"
        )
    return report


def _io_spec(names: tuple[str, ...], arrays, dynamic: dict | None) -> dict[str, Any]:
    out = {}
    for n, a in zip(names, arrays):
        shape: list[int | str] = list(a.shape)
        for axis, sym in (dynamic or {}).get(n, {}).items():
            shape[axis] = sym
        out[n] = {"shape": shape, "dtype": str(a.dtype)}
    return out


def export_graphs(
    model: nn.Module,
    out_dir: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    video: bool = False,
    int8: bool = False,
    validate: bool = True,
    source: Path | None = None,
    log=tqdm.write,
    progress: bool = True,
) -> dict[str, Any]:
    """Write the ONNX graphs of ``model`` as folder ``out_dir``; return (and write) the manifest.

    The graphs are written and validated in a temporary sibling folder that replaces ``out_dir``
    whole once every graph passed: a failed or interrupted export leaves the old folder as it was
    (no half set of graphs), and a new one keeps no stale graph or engine of an older export.
    """
    from gr1_core.cli_support import atomic_dir

    if opset < 14:
        raise ExportError(f"opset {opset} is too old: scaled_dot_product_attention needs >= 14")
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        try:
            return _export_into(model, tmp, opset=opset, video=video, int8=int8,
                                validate=validate, source=source, log=log, progress=progress)
        except ExportError as exc:  # name the graph by where it was going, not the temp folder
            raise ExportError(str(exc).replace(str(tmp), str(out_dir))) from None


def _export_into(model: nn.Module, out_dir: Path, *, opset: int, video: bool, int8: bool,
                 validate: bool, source: Path | None, log, progress: bool) -> dict[str, Any]:
    model = model.eval().float()
    config = model.config
    rng = np.random.default_rng(0)
    trace_inputs = example_inputs(config, rng, frames=2)
    # Validation uses other values and, for the dynamic frame batch, another size than the trace.
    check_inputs = example_inputs(config, rng, frames=3, history=max(1, config.window // 2 + 1))
    specs = _graph_specs(model, video)
    manifest: dict[str, Any] = {
        "format": "gr1-ros/onnx/v1",
        "opset": opset,
        "torch": torch.__version__,
        "config": config.to_dict(),
        "source": None,
        "graphs": {},
        "tolerances": {"fp32_abs": FP32_TOLERANCE, "int8_relative": INT8_RELATIVE_TOLERANCE},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if source is not None:
        weights = Path(source) / "model.safetensors"
        manifest["source"] = {
            "checkpoint": str(Path(source).resolve()),
            "model.safetensors sha256": sha256_file(weights) if weights.is_file() else None,
        }
    import onnx

    manifest["onnx"] = onnx.__version__
    jobs = [(g, False) for g in specs] + (
        [(g, True) for g in ("frame_encoder", "policy", "policy_video") if g in specs] if int8 else []
    )
    bar = tqdm(jobs, desc="gr1-export", unit="graph", file=sys.stderr, disable=not progress)
    for graph, quant in bar:
        spec = specs[graph]
        path = out_dir / GRAPH_FILES[graph]
        if quant:
            qpath = path.with_name(path.name.replace(".onnx", ".int8.onnx"))
            bar.set_postfix_str(f"int8 {qpath.name}")
            t0 = time.perf_counter()
            _quantize_int8(path, qpath)
            path = qpath
        else:
            bar.set_postfix_str(path.name)
            t0 = time.perf_counter()
            _export_one(spec, trace_inputs[graph], path, opset)
            onnx.checker.check_model(str(path))
        entry: dict[str, Any] = {
            "file": path.name,
            "precision": "int8" if quant else "fp32",
            "inputs": _io_spec(spec["inputs"], trace_inputs[graph], spec["dynamic_axes"]),
            "outputs": list(spec["outputs"]),
            "bytes": path.stat().st_size,
            "export_s": round(time.perf_counter() - t0, 2),
        }
        if validate:
            bar.set_postfix_str(f"validate {path.name}")
            entry["validation"] = validate_graph(graph, path, spec, check_inputs[graph], quant, log)
        manifest["graphs"][path.stem] = entry
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def weights_sha256(checkpoint: str | Path) -> str | None:
    weights = Path(checkpoint) / "model.safetensors"
    return sha256_file(weights) if weights.is_file() else None


def stale_reason(graph_dir: Path, checkpoint: str | Path) -> str | None:
    """Why the graphs in ``graph_dir`` may not be used for ``checkpoint``'s weights (None: they
    were exported from exactly these weights, by the sha256 in manifest.json)."""
    manifest = Path(graph_dir) / MANIFEST_FILE
    try:
        data = json.loads(manifest.read_text())
        recorded = data["source"]["model.safetensors sha256"]
    except FileNotFoundError:
        return f"{graph_dir} has no {MANIFEST_FILE} saying which weights its graphs hold"
    except (OSError, ValueError, KeyError, TypeError):
        return f"{manifest} is unreadable or names no source weights"
    current = weights_sha256(checkpoint)
    if recorded != current:
        return (f"the graphs in {graph_dir} were exported from other weights (sha256 "
                f"{str(recorded)[:12]}..., the checkpoint's is {str(current)[:12]}...)")
    return None


def main(argv: list[str] | None = None) -> int:
    from gr1_core.cli_support import ArgumentParser, check_output, fail

    parser = ArgumentParser(
        prog="gr1-export",
        description="Export the ONNX graphs of a gr1-ros checkpoint (frame encoder, text encoder, "
        "policy) for the onnxruntime and tensorrt backends, and check each against PyTorch.",
        epilog="Example: gr1-export models/gr1-sim --int8   (writes models/gr1-sim/onnx/). "
        "Tolerances: docs/RUNTIME.md.",
    )
    parser.add_argument("checkpoint", type=Path, help="checkpoint directory (config.json, model.safetensors, ...)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: CHECKPOINT/onnx)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET}, >= 14)")
    parser.add_argument("--video", action="store_true", help="also write policy_video.onnx (policy + predicted frames)")
    parser.add_argument("--int8", action="store_true", help="also write dynamically int8-quantised frame_encoder/policy graphs")
    parser.add_argument("--validate", action=argparse.BooleanOptionalAction, default=True,
                        help="compare every graph with PyTorch on random inputs (default: on)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing output folder (e.g. graphs of older weights)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.opset < 14:
        parser.error(f"--opset {args.opset} is too old: scaled_dot_product_attention needs >= 14")

    from gr1_core.checkpoint import CheckpointError, load_pretrained
    from gr1_core.cli_support import OutputError

    out = args.out or args.checkpoint / "onnx"
    try:
        model, _processors, _meta = load_pretrained(args.checkpoint)
        check_output(out, kind="dir", force=args.force)
    except (CheckpointError, OutputError) as exc:
        return fail("gr1-export", exc)
    print(f"gr1-export: {args.checkpoint} ({model.config.name} preset) -> {out}, opset {args.opset}")
    try:
        manifest = export_graphs(
            model, out, opset=args.opset, video=args.video, int8=args.int8,
            validate=args.validate, source=args.checkpoint, progress=not args.no_progress,
        )
    except ExportError as exc:
        return fail("gr1-export", f"FAILED, nothing written: {exc}", 1)
    except KeyboardInterrupt:
        return fail("gr1-export", f"interrupted; {out} is as it was", 130)
    except OSError as exc:
        return fail("gr1-export", f"cannot write {out}: {exc}", 1)
    for g in manifest["graphs"].values():
        print(f"  wrote {out / g['file']}  ({g['bytes'] / 1e6:.1f} MB)")
    print(f"  wrote {out / MANIFEST_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
