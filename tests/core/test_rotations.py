"""The stack's one rotation convention: quaternion, matrix and rpy forms agree."""

from __future__ import annotations

import numpy as np
import pytest

from gr1_core.rotations import (
    matrix_to_quat,
    matrix_to_rpy,
    quat_to_matrix,
    quat_to_rpy,
    rpy_to_matrix,
    rpy_to_quat,
)

RNG = np.random.default_rng(0)
ANGLES = [RNG.uniform([-3, -1.5, -3], [3, 1.5, 3]) for _ in range(50)] + [
    np.array([np.pi, 0.0, 0.0]),  # the TCP pointing down
    np.array([0.0, 0.0, 0.0]),
]


@pytest.mark.parametrize("rpy", ANGLES, ids=lambda a: np.array2string(a, precision=2))
def test_every_form_describes_the_same_rotation(rpy: np.ndarray) -> None:
    r = rpy_to_matrix(rpy)
    q = np.array(rpy_to_quat(*rpy))
    np.testing.assert_allclose(quat_to_matrix(q), r, atol=1e-12)
    np.testing.assert_allclose(rpy_to_matrix(quat_to_rpy(*q)), r, atol=1e-9)
    np.testing.assert_allclose(rpy_to_matrix(matrix_to_rpy(r)), r, atol=1e-9)
    q2 = matrix_to_quat(r)
    assert q2[3] >= 0
    np.testing.assert_allclose(np.abs(q2 @ q), 1.0, atol=1e-12)  # same rotation, sign aside


def test_yaw_of_a_known_quaternion() -> None:
    half = np.pi / 4  # 90 deg about z
    np.testing.assert_allclose(quat_to_rpy(0.0, 0.0, np.sin(half), np.cos(half)), [0, 0, np.pi / 2])


@pytest.mark.parametrize("quat", [(0.0, 0.0, 0.0, 0.0), (float("nan"), 0.0, 0.0, 1.0)])
def test_a_non_rotation_is_refused_by_name(quat) -> None:
    with pytest.raises(ValueError, match="is not a rotation"):
        quat_to_rpy(*quat)
