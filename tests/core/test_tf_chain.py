"""gr1_core.data.tf_chain: composing base -> TCP from static and dynamic TF edges, without ROS."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gr1_core.data.tf_chain import TfChainError, TfTree, invert, transform_matrix
from gr1_core.rotations import matrix_to_quat, rpy_to_matrix


def quat_z(angle: float) -> tuple[float, float, float, float]:
    return 0.0, 0.0, float(np.sin(angle / 2)), float(np.cos(angle / 2))


def arm_tree(angles: dict[int, float]) -> TfTree:
    """base -> link1 (dynamic: rotation about z by angles[t]), link1 -> hand (static, 0.5 m along
    x), hand -> tcp (static, 0.1 m along z): the TCP sits at (0.5 cos a, 0.5 sin a, 0.1)."""
    tree = TfTree()
    tree.add_static("link1", "hand", (0.5, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
    tree.add_static("hand", "tcp", (0.0, 0.0, 0.1), (0.0, 0.0, 0.0, 1.0))
    for t, a in angles.items():
        tree.add(t, "base", "link1", (0.0, 0.0, 0.0), quat_z(a))
    return tree


def test_static_and_dynamic_edges_compose_at_each_time():
    tree = arm_tree({100: 0.0, 200: np.pi / 2, 300: np.pi})
    times, poses = tree.track("base", "tcp")
    assert times.tolist() == [100, 200, 300]
    np.testing.assert_allclose(poses[:, :3, 3], [[0.5, 0, 0.1], [0, 0.5, 0.1], [-0.5, 0, 0.1]],
                               atol=1e-12)
    # Between samples the latest one holds; the orientation is the dynamic edge's.
    pose = tree.lookup("base", "tcp", 250)
    np.testing.assert_allclose(pose[:3, 3], [0.0, 0.5, 0.1], atol=1e-12)
    np.testing.assert_allclose(pose[:3, :3], rpy_to_matrix(np.array([0, 0, np.pi / 2])), atol=1e-12)


def test_samples_added_out_of_order_are_sorted():
    tree = arm_tree({300: np.pi, 100: 0.0, 200: np.pi / 2})
    times, poses = tree.track("base", "tcp")
    assert times.tolist() == [100, 200, 300]
    np.testing.assert_allclose(poses[1, :3, 3], [0, 0.5, 0.1], atol=1e-12)


def test_random_chain_matches_the_product_of_its_matrices():
    rng = np.random.default_rng(0)
    tree, expected = TfTree(), np.eye(4)
    frames = ["root", "a", "b", "c", "d"]
    for i, (parent, child) in enumerate(itertools.pairwise(frames)):
        xyz = rng.normal(size=3)
        quat = matrix_to_quat(rpy_to_matrix(rng.uniform(-3, 3, size=3)))
        if i % 2:
            tree.add_static(parent, child, xyz, quat)
        else:
            tree.add(5, parent, child, xyz, quat)
        expected = expected @ transform_matrix(xyz, quat)
    np.testing.assert_allclose(tree.lookup("root", "d", 5), expected, atol=1e-12)
    # Upwards (target above base) and sideways (through a common ancestor) chains.
    np.testing.assert_allclose(tree.lookup("d", "root", 5), invert(expected), atol=1e-12)
    tree.add_static("b", "side", (1.0, 2.0, 3.0), (0.0, 0.0, 0.0, 1.0))
    side = tree.lookup("root", "side", 5)
    np.testing.assert_allclose(tree.lookup("d", "side", 5), invert(expected) @ side, atol=1e-12)


def test_track_starts_when_every_dynamic_edge_has_a_sample():
    tree = arm_tree({100: 0.0, 200: 0.1, 300: 0.2})
    tree.add_static("tcp", "finger", (0.0, 0.0, 0.01), (0.0, 0.0, 0.0, 1.0))
    tree.add(250, "tcp", "pad", (0.0, 0.0, 0.02), (0.0, 0.0, 0.0, 1.0))
    tree.add(350, "tcp", "pad", (0.0, 0.0, 0.03), (0.0, 0.0, 0.0, 1.0))
    times, poses = tree.track("base", "pad")
    assert times.tolist() == [250, 300, 350]
    np.testing.assert_allclose(poses[:, 2, 3], [0.12, 0.12, 0.13], atol=1e-12)
    with pytest.raises(TfChainError, match=r"no transform 'tcp' -> 'pad' at or before t=0\.000"):
        tree.lookup("base", "pad", 200)


def test_a_fully_static_chain_is_one_pose():
    tree = TfTree()
    tree.add_static("fr3_link0", "camera", (1.0, 0.0, 0.5), quat_z(np.pi))
    times, poses = tree.track("fr3_link0", "camera")
    assert times.tolist() == [0] and poses.shape == (1, 4, 4)
    np.testing.assert_allclose(poses[0, :3, 3], [1.0, 0.0, 0.5])


def test_missing_link_names_both_frames_and_their_roots():
    tree = arm_tree({100: 0.0})
    tree.add(100, "world", "camera", (0.0, 0.0, 1.0), (0.0, 0.0, 0.0, 1.0))
    with pytest.raises(TfChainError) as err:
        tree.track("world", "tcp")
    text = str(err.value)
    assert "no TF chain from 'world' to 'tcp'" in text
    assert "root 'world'" in text and "root 'base'" in text and "'hand'" in text


def test_unknown_frame_is_named_with_the_frames_seen():
    tree = arm_tree({100: 0.0})
    with pytest.raises(TfChainError, match=r"target frame 'fr3_hand_tcp' is not in the TF data; "
                       r"frames seen: \['base', 'hand', 'link1', 'tcp'\]"):
        tree.track("base", "fr3_hand_tcp")
    with pytest.raises(TfChainError, match="base frame 'fr3_link0'"):
        TfTree().track("fr3_link0", "tcp")


@pytest.mark.parametrize("bad, match", [
    (lambda t: t.add(1, "base", "tcp", (0, 0, 0), (0, 0, 0, 1)), "two parents, 'hand' and 'base'"),
    (lambda t: t.add(1, "link1", "hand", (0, 0, 0), (0, 0, 0, 1)), "on both /tf_static and /tf"),
    (lambda t: t.add(1, "tcp", "tcp", (0, 0, 0), (0, 0, 0, 1)), "links a frame to itself"),
    (lambda t: t.add(1, "", "x", (0, 0, 0), (0, 0, 0, 1)), "empty frame id"),
])
def test_malformed_trees_are_refused_by_name(bad, match):
    with pytest.raises(TfChainError, match=match):
        bad(arm_tree({100: 0.0}))


@pytest.mark.parametrize("quat, match", [((0, 0, 0, 0), "zero length"),
                                         ((0, 0, np.nan, 1), "not finite")])
def test_bad_rotation_names_its_edge(quat, match):
    tree = arm_tree({100: 0.0})
    tree.add(200, "base", "link1", (0, 0, 0), quat)
    with pytest.raises(TfChainError, match=f"transform 'base' -> 'link1': .*{match}"):
        tree.track("base", "tcp")


def test_a_parent_loop_is_refused():
    tree = TfTree()
    tree.add_static("a", "b", (0, 0, 0), (0, 0, 0, 1))
    tree.add_static("b", "c", (0, 0, 0), (0, 0, 0, 1))
    tree.add_static("c", "a", (0, 0, 0), (0, 0, 0, 1))
    with pytest.raises(TfChainError, match="loop"):
        tree.track("a", "c")
