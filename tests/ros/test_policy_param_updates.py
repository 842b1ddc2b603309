"""Runtime parameter changes of gr1_policy: what is refused (and why), what takes effect at once.

The rules are in gr1_policy.param_updates (pure, tested first); the second half checks them on
a real PolicyNode through rclpy's set_parameters, as `ros2 param set` reaches it, and the
lifecycle service refusing invalid transition ids without ending the node.
tests/launch/test_ros2_param_lifecycle.py runs the same through the ros2 CLI.
"""

from __future__ import annotations

import pytest

from gr1_policy import param_updates, params

CURRENT = {"safety.workspace_min": [0.2, -0.5, 0.0], "safety.workspace_max": [0.8, 0.5, 0.7]}


def check(state: str, **changes):
    return param_updates.check_changes(
        {k.replace("__", "."): v for k, v in changes.items()}, CURRENT, state)


@pytest.mark.parametrize("state", ["inactive", "active", "configuring"])
def test_configure_time_parameters_refused_while_configured(state):
    reason = check(state, control_rate=20.0)
    assert reason is not None
    for needle in (f"control_rate is read at configure and the node is {state}",
                   "lifecycle set /gr1_policy cleanup", "ros2 param set /gr1_policy control_rate",
                   "lifecycle set /gr1_policy configure"):
        assert needle in reason, reason
    assert "checkpoint" in check(state, checkpoint="/tmp/x")


def test_configure_time_parameters_accepted_while_unconfigured():
    assert check("unconfigured", control_rate=20.0, checkpoint="/x", hold_policy="decay") is None
    # ... but still checked against the schema (ROS descriptors do not know choices).
    assert "hold_policy: 'sometimes' is not one of" in check("unconfigured",
                                                             hold_policy="sometimes")


@pytest.mark.parametrize("state", ["unconfigured", "inactive", "active"])
def test_live_parameters_accepted_in_every_state(state):
    assert check(state, safety__max_linear_velocity=[0.1, 0.1, 0.1]) is None
    assert check(state, safety__max_linear_acceleration=2.0, gripper__force=30.0) is None


def test_arrays_checked_per_element_and_length():
    reason = check("active", safety__max_linear_velocity=[-0.1, 0.1, 0.1])
    assert reason == "safety.max_linear_velocity: -0.1 is below the minimum 0.0 m/s"
    assert "above the maximum 6.0 rad/s" in check("active", safety__max_angular_velocity=[1, 9, 1])
    assert "needs 3 values, got 2" in check("active", safety__workspace_max=[1.0, 1.0])
    assert "is not finite" in check("active", safety__max_linear_velocity=[0.1, float("nan"), 0.1])


def test_workspace_corners_checked_against_each_other():
    reason = check("active", safety__workspace_min=[0.9, 0.0, 0.0])
    assert "safety.workspace_min [0.9, 0.0, 0.0] must be below safety.workspace_max " \
           "[0.8, 0.5, 0.7]" in reason
    assert check("active", safety__workspace_max=[0.1, 1.0, 1.0]) is not None
    # Both corners in one request are checked against each other, not the old values.
    assert check("active", safety__workspace_min=[0.9, 0.0, 0.0],
                 safety__workspace_max=[1.2, 0.5, 0.7]) is None


def test_names_outside_the_schema_are_left_to_rclpy():
    assert check("active", use_sim_time=True) is None


def test_every_parameter_is_either_live_or_configure_time():
    live = {s.name for s in params.SCHEMA if param_updates.is_live(s.name)}
    assert live == {s.name for s in params.SCHEMA if s.name.split(".")[0] in ("safety", "gripper")}
    assert param_updates.changed_groups(["safety.stale_timeout", "gripper.width", "dry_run"]) == {
        "safety", "gripper"}


# ------------------------------------------------------------------------------ on a real node
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from gr1_core.checkpoint_cli import main as init_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "test"
    assert init_checkpoint(["--preset", "test", "--out", str(path)]) == 0
    return path


@pytest.mark.ros
@pytest.mark.slow
def test_set_parameters_on_a_configured_node(ros_context, checkpoint):
    import numpy as np
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    from gr1_policy.embedded import EmbeddedPolicy

    with EmbeddedPolicy(ros_context, checkpoint=str(checkpoint)) as policy:
        node = policy.node
        assert policy.configure() and policy.activate()

        with pytest.raises(ValueError, match="control_rate is read at configure and the node "
                                             "is active"):
            policy.set_parameters(control_rate=20.0)
        assert node.get_parameter("control_rate").value == 30.0  # refused means unchanged

        with pytest.raises(ValueError, match=r"-0\.1 is below the minimum 0\.0 m/s"):
            policy.set_parameters(safety__max_linear_velocity=[-0.1, 0.1, 0.1])
        with pytest.raises(ValueError, match=r"workspace_min .* must be below"):
            policy.set_parameters(safety__workspace_min=[0.9, 0.0, 0.0])
        np.testing.assert_allclose(node._safety.limits.max_linear_velocity, 0.15)

        # Safety limits and gripper settings take effect at once.
        policy.set_parameters(safety__max_linear_velocity=[0.05, 0.06, 0.07],
                              safety__workspace_max=[0.9, 0.6, 0.8], gripper__force=30.0)
        np.testing.assert_allclose(node._safety.limits.max_linear_velocity, [0.05, 0.06, 0.07])
        np.testing.assert_allclose(node._safety.limits.workspace_max, [0.9, 0.6, 0.8])
        assert node.cfg.safety.max_linear_velocity == (0.05, 0.06, 0.07)
        assert node.cfg.gripper.force == 30.0
        filtered = node._safety.filter(np.array([1.0, 0, 0, 0, 0, 0]), 0.0,
                                       np.array([0.5, 0.0, 0.3]), True)
        assert filtered.twist[0] <= 0.05 + 1e-9

        # Invalid transition ids are refused; the node lives on, still active.
        for tid in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE, 99,
                    Transition.TRANSITION_UNCONFIGURED_SHUTDOWN):
            request = ChangeState.Request(transition=Transition(id=tid))
            response = policy.call(node._service_change_state.callback, request,
                                   ChangeState.Response())
            assert response.success is False, tid
            assert policy.lifecycle_state() == "active"

        # The documented way: cleanup, set, configure.
        assert policy.deactivate() and policy.cleanup()
        policy.set_parameters(control_rate=20.0)
        assert policy.configure()
        assert node.cfg.control_rate == 20.0
        assert node._safety.limits.max_linear_velocity.tolist() == [0.05, 0.06, 0.07]

        assert not node.finalized
        assert policy.shutdown()
        assert node.finalized and policy.lifecycle_state() == "finalized"
