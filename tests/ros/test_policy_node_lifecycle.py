"""The policy node on real DDS through its lifecycle: deactivate, a model that goes non-finite,
checkpoints swapped in at configure (instruction prototypes, missing, corrupt), parameters that
change what it commands (dry_run, servo_api, max_result_age), and gr1-policy as its own process
driven by the lifecycle services.

One node per module (policy_node_testkit). The cases depend on their order: each starts in the
lifecycle state the one before it left (the first from active, the last closes the node).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from policy_node_testkit import (
    PERIOD,
    assert_zero_with_reason,
    graph,  # noqa: F401  (the fixture running uses)
    moving,
    running,  # noqa: F401  (the fixture)
    wait_for,
)

pytestmark = [pytest.mark.ros, pytest.mark.slow]


# ------------------------------------------------------------------------------ the cases

def test_deactivate_sends_zero_and_stops(running):  # noqa: F811
    policy, robot, _ = running
    assert policy.deactivate()
    assert policy.lifecycle_state() == "inactive"
    time.sleep(0.3)
    with robot.lock:
        last = robot.rec.twists[-1]
    assert np.all(last[3] == 0.0), "the last twist after deactivate is not zero"
    n = len(robot.rec.twists)
    time.sleep(0.3)
    assert len(robot.rec.twists) == n, "twists kept coming while inactive"


def test_nan_model_commands_zero(running):  # noqa: F811
    """A model that goes non-finite at run time (as an fp16 engine that overflows does; a
    checkpoint with NaN weights is refused at load) commands zero motion and says why."""
    import torch

    policy, robot, ckpts = running
    assert policy.cleanup()
    # The torch backend, whose weights can be poisoned in place (the default runs ONNX graphs)
    policy.set_parameters(checkpoint=str(ckpts["good"]), backend="torch")
    assert policy.configure() and policy.activate()
    with torch.no_grad():
        policy.node._policy.runner.backend.model.pred_arm_act.bias.fill_(float("nan"))
    onset = robot.now()
    from std_msgs.msg import String

    robot.pub_instruction.publish(String(data="pick up the red block"))
    diags = wait_for(lambda: [d for d in robot.diags_since(onset) if "non-finite" in d[2]], 10,
                     "a diagnostic about the NaN output")
    assert diags[0][1] == 2, diags[0]  # ERROR
    time.sleep(0.3)
    tw = robot.twists_since(onset)
    assert tw and all(np.all(v == 0.0) for *_, v in tw), "a NaN model moved the arm"
    assert policy.deactivate() and policy.cleanup()
    policy.set_parameters(backend="onnxruntime")  # the later cases run the default


def test_default_backend_runs_the_exported_graphs_without_spinning(running):  # noqa: F811
    """The node's default is ONNX Runtime on graphs exported at configure beside the checkpoint,
    with the thread pool's spinning off (it would take the executor's and the cameras' cores)."""
    policy, _robot, ckpts = running
    assert policy.lifecycle_state() == "unconfigured"
    policy.set_parameters(checkpoint=str(ckpts["good"]))
    assert policy.configure()
    loaded = policy.node._policy
    assert loaded.runner.backend.name == "onnxruntime" and not loaded.runner.backend.allow_spinning
    assert loaded.runner.graph_dir == ckpts["good"] / "onnx"
    assert (ckpts["good"] / "onnx" / "policy.onnx").is_file()
    assert f"graphs in {ckpts['good'] / 'onnx'}" in loaded.description
    assert policy.cleanup()


def test_instruction_near_no_known_task_commands_zero(running):  # noqa: F811
    """A policy with instruction prototypes refuses a sentence near none of them: zero twist and
    an error saying so, then motion again for a known instruction."""
    from std_msgs.msg import String

    policy, robot, ckpts = running
    assert policy.lifecycle_state() == "unconfigured"
    policy.set_parameters(checkpoint=str(ckpts["known"]))
    assert policy.configure() and policy.activate()
    t = robot.now()
    robot.pub_instruction.publish(String(data="pick up the red block"))
    wait_for(lambda: moving(robot, t), 10, "motion for a known instruction")
    onset = robot.now()
    robot.pub_instruction.publish(String(data="dance on the table"))
    # Zero at once; the model names the refusal at its first step, which waits for a camera
    # frame newer than the instruction (one frame period) and takes a few ms.
    assert_zero_with_reason(robot, onset, "'dance on the table' is not one this policy can do",
                            reason_within=3 * PERIOD + 0.03)
    t = robot.now()
    robot.pub_instruction.publish(String(data="open the drawer"))
    wait_for(lambda: moving(robot, t), 10, "motion after a known instruction returned")
    assert policy.deactivate() and policy.cleanup()


def test_missing_and_corrupt_checkpoint_fail_configure(running):  # noqa: F811
    import shutil

    policy, robot, ckpts = running
    assert policy.lifecycle_state() == "unconfigured"
    missing = ckpts["root"] / "does-not-exist"
    corrupt = ckpts["root"] / "corrupt"
    shutil.copytree(ckpts["good"], corrupt)
    (corrupt / "model.safetensors").write_bytes(b"not a safetensors file")
    for path, needle in ((missing, "does not exist"), (corrupt, "model.safetensors")):
        policy.set_parameters(checkpoint=str(path))
        assert not policy.configure(), f"configure succeeded with {path}"
        assert policy.lifecycle_state() == "unconfigured"
        wait_for(lambda p=str(path), n=needle: any(
            "configure failed" in m and p in m and n in m for m in robot.rec.rosout), 5,
            f"a /rosout error naming {path} and {needle!r}")
    # The node survived all of it and configures again with a good checkpoint.
    policy.set_parameters(checkpoint=str(ckpts["good"]))
    assert policy.configure()


def reconfigure(policy, **values) -> None:
    if policy.lifecycle_state() == "active":
        assert policy.deactivate()
    if policy.lifecycle_state() == "inactive":
        assert policy.cleanup()
    policy.set_parameters(**values)
    assert policy.configure()


def test_dry_run_publishes_actions_only(running):  # noqa: F811
    from std_msgs.msg import String

    from gr1_msgs.msg import PolicyStatus

    policy, robot, ckpts = running
    reconfigure(policy, checkpoint=str(ckpts["good"]), dry_run=True)
    assert policy.activate()
    onset = robot.now()
    robot.pub_instruction.publish(String(data="pick up the red block"))
    wait_for(lambda: any(s[0] == PolicyStatus.STATE_DRY_RUN for s in robot.rec.status[-5:]), 10,
             "DRY_RUN status")
    time.sleep(0.3)
    assert robot.twists_since(onset) == [], "a twist was published in dry run"
    with robot.lock:
        actions = [a for a in robot.rec.actions
                   if a.header.stamp.sec + a.header.stamp.nanosec * 1e-9 >= onset]
    assert actions and actions[-1].twist_commanded.linear.x > 0.05, "no would-be twist in dry run"
    reconfigure(policy, dry_run=False)


def activate_and_instruct(policy, robot) -> float:
    """Activate, then send an instruction; the robot's clock when activation returned."""
    from std_msgs.msg import String

    assert policy.activate()
    onset = robot.now()
    robot.pub_instruction.publish(String(data="pick up the red block"))
    return onset


def test_servo_humble_start_and_refusal(running):  # noqa: F811
    from gr1_msgs.msg import PolicyStatus

    policy, robot, _ = running
    reconfigure(policy, servo_api="humble", servo_node="/test_servo")
    calls = robot.servo_calls
    t = activate_and_instruct(policy, robot)
    wait_for(lambda: moving(robot, t), 10, "motion once Servo accepted")
    assert robot.servo_calls == calls + 1

    # A lost answer: the node holds zero motion, asks again after servo_timeout, then moves.
    reconfigure(policy, servo_timeout=0.5)
    robot.servo_lose = 1
    calls = robot.servo_calls
    onset = activate_and_instruct(policy, robot)
    wait_for(lambda: moving(robot, onset), 10, "motion once Servo answered the second request")
    assert robot.servo_calls == calls + 2
    assert any("has not answered in 0.5 s: asking again (request 2)" in m
               for m in robot.rec.rosout)
    with robot.lock:
        early = [v for t_, _, _, v in robot.rec.twists if onset <= t_ < onset + 0.4]
    assert early and all(np.all(v == 0.0) for v in early), "moved before Servo answered"

    robot.servo_accepts = False
    assert policy.deactivate() and policy.activate()
    onset = robot.now()
    diags = wait_for(lambda: [d for d in robot.diags_since(onset) if "refused" in d[2]], 10,
                     "a diagnostic about Servo's refusal")
    assert "reflex mode" in diags[0][2] and diags[0][1] == 2
    wait_for(lambda: robot.rec.status[-1][0] == PolicyStatus.STATE_FAULT, 2,
             "a periodic status saying fault")
    time.sleep(0.2)
    assert all(np.all(v == 0.0) for *_, v in robot.twists_since(onset))
    robot.servo_accepts = True

    # No Servo at that name: activate fails and says so.
    reconfigure(policy, servo_node="/no_servo_here", servo_timeout=0.5)
    assert not policy.activate()
    wait_for(lambda: any("/no_servo_here/start_servo did not appear" in m
                         for m in robot.rec.rosout), 5, "the activate error on /rosout")
    # servo_api jazzy needs moveit_msgs, which the wheels do not have: a clear refusal.
    reconfigure(policy, servo_api="jazzy", servo_node="/servo_node")
    assert not policy.activate()
    wait_for(lambda: any("moveit_msgs is not installed" in m for m in robot.rec.rosout), 5,
             "the moveit_msgs error on /rosout")
    reconfigure(policy, servo_api="none")
    assert policy.lifecycle_state() == "inactive"


def test_late_results_are_dropped_and_counted(running):  # noqa: F811
    from std_msgs.msg import String

    policy, robot, _ = running
    # No model can answer within 1 ms of its frames' stamps: every result arrives too late.
    reconfigure(policy, max_result_age=0.001)
    assert policy.activate()
    onset = robot.now()
    robot.pub_instruction.publish(String(data="pick up the red block"))
    status = wait_for(lambda: [s for s in robot.rec.status[-3:] if s[2].dropped_results >= 3],
                      10, "dropped_results counting up")
    assert "waiting for the first model result" in status[-1][1]
    assert all(np.all(v == 0.0) for *_, v in robot.twists_since(onset))
    reconfigure(policy, max_result_age=0.5)


def test_console_script_over_lifecycle_services_and_sigint(running, tmp_path):  # noqa: F811
    """gr1-policy as its own process, driven by the standard lifecycle services, as
    `ros2 lifecycle set` or a launch file would; Ctrl-C leaves a zero twist as the last word."""
    import os
    import signal

    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    from std_msgs.msg import String

    policy, robot, ckpts = running
    policy.close()  # one gr1_policy on the graph at a time
    config = Path(__file__).parents[2] / "ros2_ws/src/gr1_policy/config/policy.yaml"
    log_path = tmp_path / "gr1-policy.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gr1-policy"), "--ros-args", "--params-file",
             str(config), "-p", f"checkpoint:={ckpts['good']}"],
            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        client = robot.node.create_client(ChangeState, "/gr1_policy/change_state")
        get_state = robot.node.create_client(GetState, "/gr1_policy/get_state")
        # Discovery may still list the embedded node's services for a moment; a request sent
        # to them is lost. get_state is harmless to repeat: ask until the process answers.
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "gr1-policy never answered get_state"
            if get_state.wait_for_service(timeout_sec=1.0):
                future = get_state.call_async(GetState.Request())
                end = time.monotonic() + 2.0
                while not future.done() and time.monotonic() < end:
                    time.sleep(0.02)
                if future.done() and future.result().current_state.label == "unconfigured":
                    break
        assert client.wait_for_service(timeout_sec=10), log_path.read_text()
        for tid in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            future = client.call_async(ChangeState.Request(transition=Transition(id=tid)))
            response = wait_for(lambda f=future: f.done() and f.result(), 60, f"transition {tid}")
            assert response.success, log_path.read_text()
        t = robot.now()
        robot.pub_instruction.publish(String(data="pick up the red block"))
        wait_for(lambda: moving(robot, t), 30, "motion from the gr1-policy process")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0, log_path.read_text()
        time.sleep(0.3)
        with robot.lock:
            last = robot.rec.twists[-1]
        assert np.all(last[3] == 0.0), "the process exited with a non-zero last twist"
        assert "interrupted: zero motion commanded" in log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
