"""The parameter schema, its YAML defaults and its ROS declarations agree."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gr1_policy import param_schema, params

YAML_PATH = Path(__file__).parents[2] / "ros2_ws/src/gr1_policy/config/policy.yaml"


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, prefix + key + "."))
        else:
            out[prefix + key] = value
    return out


def test_yaml_keys_equal_schema_names_and_values_equal_defaults():
    doc = yaml.safe_load(YAML_PATH.read_text())
    flat = _flatten(doc[params.NODE_NAME]["ros__parameters"])
    assert set(flat) == {s.name for s in params.SCHEMA}
    for spec in params.SCHEMA:
        value = flat[spec.name]
        expected = list(spec.default) if spec.type is tuple else spec.default
        assert value == expected, spec.name
        # A YAML int for a float parameter is refused by ROS at declare time.
        assert type(value) is (list if spec.type is tuple else spec.type), spec.name


def test_yaml_is_the_generated_text():
    assert YAML_PATH.read_text() == params.yaml_text(), "regenerate: python -m gr1_policy.params --yaml"


def test_every_entry_has_unit_description_and_valid_default():
    for spec in params.SCHEMA:
        assert spec.unit.strip(), spec.name
        assert len(spec.description) > 10, spec.name
        assert not param_schema.problems(spec, spec.default), spec.name
    params.from_flat({})  # the defaults form a valid config


def test_from_flat_reports_every_problem_by_name():
    with pytest.raises(params.ParamError) as err:
        params.from_flat({
            "control_rate": 0.0,
            "hold_policy": "sometimes",
            "safety.max_linear_velocity": [0.1, 0.1],
            "nonsense": 1,
        })
    text = str(err.value)
    for needle in ("control_rate", "below the minimum", "hold_policy", "sometimes",
                   "safety.max_linear_velocity: needs 3 values", "nonsense: unknown"):
        assert needle in text
    with pytest.raises(params.ParamError, match="workspace_min"):
        params.from_flat({"safety.workspace_min": [1.0, 0.0, 0.0],
                          "safety.workspace_max": [0.5, 1.0, 1.0]})


def test_round_trip_flat():
    cfg = params.from_flat({"control_rate": 50, "safety.workspace_max": [1.0, 1.0, 1.0]})
    assert cfg.control_rate == 50.0 and isinstance(cfg.control_rate, float)
    assert cfg.safety.workspace_max == (1.0, 1.0, 1.0)
    assert params.from_flat(params.to_flat(cfg)) == cfg


@pytest.mark.ros
def test_declare_and_read_on_a_real_node(ros_context):
    from rclpy.node import Node

    node = Node("gr1_policy", context=ros_context, parameter_overrides=params.overrides(
        control_rate=15, safety__max_linear_velocity=[0.05, 0.05, 0.05], dry_run=True))
    try:
        params.declare_all(node)
        cfg = params.read(node)
        assert cfg.control_rate == 15.0
        assert cfg.safety.max_linear_velocity == (0.05, 0.05, 0.05)
        assert cfg.dry_run is True
        assert cfg.hold_policy == "hold"
        desc = node.describe_parameter("control_rate")
        assert "[unit: Hz]" in desc.description
        assert desc.floating_point_range[0].to_value == 1000.0
        # The ROS range refuses an out-of-range runtime change.
        from rclpy.parameter import Parameter
        result = node.set_parameters([Parameter("control_rate", value=-1.0)])[0]
        assert not result.successful
    finally:
        node.destroy_node()


@pytest.mark.parametrize("name", ["sim.yaml", "robot.yaml"])
def test_override_files_use_schema_names_and_valid_values(name):
    doc = yaml.safe_load((YAML_PATH.parent / name).read_text())
    flat = _flatten(doc[params.NODE_NAME]["ros__parameters"])
    assert set(flat) <= {s.name for s in params.SCHEMA}, set(flat) - {s.name for s in params.SCHEMA}
    params.from_flat(flat)


def test_node_doc_table_is_generated_from_the_schema():
    doc = (Path(__file__).parents[2] / "docs/NODE.md").read_text()
    table = doc.split("<!-- params:begin -->\n")[1].split("<!-- params:end -->")[0]
    assert table == params.markdown_table(), "regenerate: python -m gr1_policy.params --markdown"
