"""The bridge's parameter schema and config/sim.yaml agree, and bad YAML is explained."""

from __future__ import annotations

import pytest

from gr1_sim.parameters import PARAMETERS, config_path, load_defaults


def test_yaml_holds_every_declared_parameter_with_its_type():
    defaults = load_defaults()
    assert set(defaults) == {spec.name for spec in PARAMETERS}
    assert defaults["servo.incoming_command_timeout"] == 0.1
    assert defaults["servo.command_in_type"] == "speed_units"  # what the policy publishes
    assert (defaults["static_camera.width"], defaults["wrist_camera.width"]) == (200, 84)


def test_every_parameter_is_described():
    for spec in PARAMETERS:
        assert len(spec.description) > 15, spec.name


def test_missing_and_mistyped_parameters_are_named(tmp_path):
    text = config_path().read_text()
    broken = tmp_path / "sim.yaml"
    broken.write_text(text.replace("    seed: 0\n", ""))
    with pytest.raises(ValueError, match="missing parameters \\['seed'\\]"):
        load_defaults(broken)
    broken.write_text(text.replace("camera_rate: 30.0", "camera_rate: fast"))
    with pytest.raises(ValueError, match="camera_rate must be float"):
        load_defaults(broken)
