"""PolicyRunner: same actions as full recompute, caches used as designed, reset semantics."""

from __future__ import annotations

import numpy as np
import pytest
from runtime_testkit import CountingBackend, observations, sensitive_model

from gr1_core.runtime import NaiveRollout, PolicyRunner, make_backend, naive_step

A = "open the drawer"
B = "push the blue block to the left"


@pytest.fixture(scope="module", params=[{}, {"target_head": True, "target_token": True,
                                             "target_locator": 3}],
                ids=["gr1", "target-locator"])
def parts(request):
    """The plain model, and one whose frame tokens carry the locator's keypoints."""
    model, config, processors = sensitive_model(**request.param)
    return make_backend("torch", model=model), config, processors


def test_runner_equals_full_recompute_over_an_episode(parts):
    backend, config, processors = parts
    assert config.window == 4  # 30 steps cross the window boundary many times
    runner = PolicyRunner(backend, config, processors)
    naive = NaiveRollout(backend, config, processors)
    runner.reset(A)
    naive.reset(A)
    diffs, arms, histories = [], [], []
    for i, obs in enumerate(observations(30)):
        if i == 15:  # new instruction midway: a new episode for both
            runner.reset(B)
            naive.reset(B)
        got, ref = runner.step(obs), naive.step(obs)
        diffs.append(np.abs(got.info["raw_arm"] - ref.info["raw_arm"]).max())
        diffs.append(abs(got.info["gripper_logit"] - ref.info["gripper_logit"]))
        assert got.gripper_open == ref.gripper_open
        np.testing.assert_allclose(got.arm, ref.arm, atol=1e-5, rtol=0)
        arms.append(got.info["raw_arm"])
        histories.append(got.info["history"])
    assert max(diffs) <= 1e-5, f"runner differs from full recompute by {max(diffs):.2e}"
    assert histories == [1, 2, 3, 4] + [4] * 11 + [1, 2, 3, 4] + [4] * 11
    # The check above is informative only if actions actually move from step to step.
    assert np.ptp(np.array(arms), axis=0).max() > 1e-2


def test_history_order_and_instruction_matter(parts):
    """Sanity of the model used above: a scrambled window or another instruction changes the
    action far beyond the 1e-5 equality tolerance."""
    backend, config, processors = parts
    obs = observations(config.window)
    ref = naive_step(backend, config, processors, A, obs).info["raw_arm"]
    scrambled = naive_step(backend, config, processors, A, [*obs[-2::-1], obs[-1]]).info["raw_arm"]
    other = naive_step(backend, config, processors, B, obs).info["raw_arm"]
    assert np.abs(ref - scrambled).max() > 1e-3
    assert np.abs(ref - other).max() > 1e-4


def test_frames_encoded_once_and_text_once_per_instruction(parts):
    backend, config, processors = parts
    spy = CountingBackend(backend)
    runner = PolicyRunner(spy, config, processors)
    runner.reset(A)
    assert spy.text_calls == 1
    infos = [runner.step(o).info for o in observations(10)]
    assert spy.frame_batches == [2] * 10  # only the two new frames of each step
    assert spy.policy_calls == 10
    assert spy.text_calls == 1
    assert [i["frame_cache_hits"] for i in infos] == [0, 2, 4, 6] + [6] * 6
    assert infos[0]["text_cache_hit"] is False and infos[1]["text_cache_hit"] is None

    runner.reset(B)
    assert spy.text_calls == 2
    runner.reset(A)  # seen before: served from the cache
    assert spy.text_calls == 2
    info = runner.step(observations(1)[0]).info
    assert info["text_cache_hit"] is True
    assert (info["text_cache_hits"], info["text_cache_misses"]) == (1, 2)

    naive_spy = CountingBackend(backend)
    naive = NaiveRollout(naive_spy, config, processors)
    naive.reset(A)
    for o in observations(3):
        naive.step(o)
    assert naive_spy.frame_batches == [2 * config.window] * 3
    assert naive_spy.text_calls == 3


def test_reset_clears_history_and_keeps_instruction(parts):
    backend, config, processors = parts
    obs = observations(7, seed=3)
    runner = PolicyRunner(backend, config, processors)
    runner.reset(A)
    for o in obs[:6]:
        runner.step(o)
    runner.reset()  # same instruction, new episode
    assert runner.instruction == A and runner.history.count == 0 and runner.steps == 0
    after_reset = runner.step(obs[6])

    fresh = PolicyRunner(backend, config, processors)
    fresh.reset(A)
    first = fresh.step(obs[6])
    assert after_reset.info["history"] == 1
    np.testing.assert_array_equal(after_reset.info["raw_arm"], first.info["raw_arm"])
    assert after_reset.gripper_open_probability == first.gripper_open_probability


def test_step_before_reset_and_bad_instruction_are_refused(parts):
    backend, config, processors = parts
    runner = PolicyRunner(backend, config, processors)
    with pytest.raises(RuntimeError, match=r"reset\(instruction\)"):
        runner.step(observations(1)[0])
    with pytest.raises(ValueError, match="non-empty string"):
        runner.reset("  ")
    runner.reset(A)
    bad = observations(1)[0]
    bad.arm_state = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match="arm_state"):
        runner.step(bad)


def test_info_reports_timings_and_backend(parts):
    backend, config, processors = parts
    runner = PolicyRunner(backend, config, processors)
    runner.reset(A)
    action = runner.step(observations(1)[0])
    info = action.info
    for key in ("preprocess_ms", "encode_ms", "policy_ms", "total_ms"):
        assert info[key] >= 0.0
    assert info["total_ms"] >= info["policy_ms"]
    assert (info["backend"], info["precision"]) == ("torch", "fp32")
    assert action.is_finite() and action.arm.shape == (6,)
