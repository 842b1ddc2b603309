"""ISA detection from /proc/cpuinfo and the per-machine choice of precision="fastest"."""

from __future__ import annotations

import numpy as np
import pytest
from runtime_testkit import observations, save_checkpoint, sensitive_model

from gr1_core.runtime import PolicyRunner, make_backend
from gr1_core.runtime.cpu_features import (
    CpuFeatures,
    candidates,
    choose_precision,
    detect,
    parse_cpuinfo,
)
from gr1_core.runtime.precision import accuracy_check, resolve_fastest

SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 avx512f avx512_vnni avx512_bf16 avx_vnni amx_bf16 amx_tile amx_int8
processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu
"""
ZEN4 = """processor\t: 0
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_vnni avx512_bf16
"""
HASWELL = "model name\t: Intel(R) Xeon(R) CPU E5-2680 v3\nflags\t\t: fpu avx avx2 fma\n"
ARM = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd bf16 i8mm\n"


def features(text: str) -> CpuFeatures:
    model, flags = parse_cpuinfo(text)
    return CpuFeatures(flags, model)


def test_cpuinfo_of_the_first_processor_is_parsed():
    model, flags = parse_cpuinfo(SAPPHIRE_RAPIDS)
    assert model == "Intel(R) Xeon(R) Platinum 8480+"
    assert {"amx_bf16", "amx_int8", "amx_tile", "avx512_bf16"} <= flags
    assert "fpu" in flags and len(flags) > 1  # not the second processor's short line
    spr = features(SAPPHIRE_RAPIDS)
    assert spr.amx_bf16 and spr.amx_int8 and spr.bf16_gemm and spr.int8_dot
    assert spr.isa() == ["AMX-BF16", "AMX-INT8", "AMX-TILE", "AVX512-BF16", "AVX512-VNNI",
                         "AVX-VNNI", "AVX-512", "AVX2"]


def test_zen4_haswell_and_arm_flags():
    zen4 = features(ZEN4)
    assert not zen4.amx_bf16 and zen4.bf16_gemm and zen4.int8_dot
    assert zen4.isa() == ["AVX512-BF16", "AVX512-VNNI", "AVX-512", "AVX2"]
    old = features(HASWELL)
    assert not old.bf16_gemm and not old.int8_dot and old.isa() == ["AVX2"]
    arm = features(ARM)
    assert arm.model == "unknown CPU" and "i8mm" in arm.flags and arm.isa() == []
    assert parse_cpuinfo("") == ("unknown CPU", frozenset())


def test_amx_needs_the_tile_flag():
    # a kernel that lists amx_bf16 without amx_tile has no usable tiles (XFD not enabled)
    f = CpuFeatures(frozenset({"amx_bf16", "amx_int8"}))
    assert not f.amx_bf16 and not f.amx_int8 and not f.bf16_gemm and not f.int8_dot


def test_candidates_per_machine():
    assert candidates("torch", features(SAPPHIRE_RAPIDS)) == ["bf16", "int8"]
    assert candidates("torch", features(ZEN4)) == ["int8", "bf16"]
    assert candidates("torch", features(HASWELL)) == []
    assert candidates("onnxruntime", features(ZEN4)) == ["int8"]
    assert candidates("onnxruntime", features(HASWELL)) == []
    bf16_only = CpuFeatures(frozenset({"avx512f", "avx512_bf16"}))
    assert candidates("torch", bf16_only) == ["bf16"]
    for gpu in ("tensorrt", "onnxruntime-cuda"):
        assert candidates(gpu, features(SAPPHIRE_RAPIDS)) == []


def test_choice_takes_the_first_candidate_that_passes():
    calls = []

    def check(p):
        calls.append(p)
        return p == "int8"

    precision, reason = choose_precision("torch", features(SAPPHIRE_RAPIDS), check)
    assert (precision, calls) == ("int8", ["bf16", "int8"])
    assert "bf16 failed the accuracy check" in reason and "AMX-BF16" in reason
    calls.clear()
    precision, _ = choose_precision("torch", features(ZEN4), check)
    assert (precision, calls) == ("int8", ["int8"])  # stops at the first pass
    assert choose_precision("torch", features(ZEN4), {"bf16"})[0] == "bf16"
    assert choose_precision("torch", features(ZEN4))[0] == "int8"


def test_choice_falls_back_to_the_default():
    precision, reason = choose_precision("torch", features(ZEN4), set())
    assert precision == "fp32" and "int8, bf16 failed" in reason
    precision, reason = choose_precision("onnxruntime", features(HASWELL))
    assert precision == "fp32" and "no reduced precision accelerated" in reason and "AVX2" in reason
    assert choose_precision("tensorrt", features(ZEN4), default="fp16")[0] == "fp16"


def test_detect_reads_a_cpuinfo_file(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(ZEN4)
    f = detect(str(path))
    assert f.model == "AMD EPYC 9R14" and f.int8_dot and f.bf16_gemm
    assert f.ort_version  # onnxruntime is a dependency
    assert "AVX512-VNNI" in f.summary() and "onnxruntime" in f.summary()
    missing = detect(str(tmp_path / "absent"))
    assert missing.flags == frozenset() and candidates("torch", missing) == []


class Shifted:
    """A backend whose arm output is off by ``shift`` (a broken or too coarse kernel)."""

    def __init__(self, inner, shift: float, precision: str) -> None:
        self.inner, self.shift = inner, shift
        self.name, self.precision = inner.name, precision

    def encode_frames(self, rgb):
        return self.inner.encode_frames(rgb)

    def encode_text(self, ids):
        return self.inner.encode_text(ids)

    def policy(self, *args):
        arm, grip = self.inner.policy(*args)
        return arm + self.shift, grip


def test_accuracy_check_refuses_a_shifted_arm_and_picks_the_next_candidate():
    model, config, processors = sensitive_model()
    ref = make_backend("torch", model=model)
    assert accuracy_check(Shifted(ref, 0.0, "int8"), ref, config, processors, steps=3).passed
    bad = accuracy_check(Shifted(ref, 0.05, "int8"), ref, config, processors, steps=3)
    assert not bad.passed and bad.arm_diff == pytest.approx(0.05, abs=1e-6)

    def build(precision):
        if precision == "int8":
            return Shifted(ref, 0.05, "int8")
        if precision == "bf16":
            raise RuntimeError("no bf16 kernel")
        return ref

    chosen, reason = resolve_fastest("torch", build, config, processors,
                                     features(ZEN4), steps=3)
    assert chosen is ref and "arm diff 0.0500" in reason and "not built" in reason
    chosen, _ = resolve_fastest("torch", lambda p: Shifted(ref, 0.001, p), config, processors,
                                features(ZEN4), steps=3)
    assert chosen.precision == "int8"


def test_from_pretrained_fastest_builds_what_this_machine_accelerates(tmp_path):
    ckpt = save_checkpoint(tmp_path / "ckpt")
    runner = PolicyRunner.from_pretrained(ckpt, backend="onnxruntime", precision="fastest")
    expected = [*candidates("onnxruntime", detect()), "fp32"]
    assert runner.backend.precision in expected[:2]
    assert runner.backend.precision in runner.precision_choice
    runner.reset("open the drawer")
    action = runner.step(observations(1)[0])
    assert np.all(np.isfinite(action.info["raw_arm"]))
    auto = PolicyRunner.from_pretrained(ckpt, backend="torch", precision="auto")
    assert auto.backend.precision == "fp32"  # the shipped default stays fp32
