"""docs/visualisation: the Foxglove layout (JSON) and the RViz config (YAML) parse, and every
topic they name is one the stack publishes with its shipped parameters (gr1_policy's
config/policy.yaml, gr1_sim's config/sim.yaml), so a renamed topic cannot leave a panel empty.
The files were never opened in Foxglove or RViz here (no display); this checks what can be
checked without one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VIS = ROOT / "docs" / "visualisation"
FOXGLOVE = VIS / "gr1_foxglove_layout.json"
RVIZ = VIS / "gr1.rviz"
POLICY_YAML = ROOT / "ros2_ws" / "src" / "gr1_policy" / "config" / "policy.yaml"
SIM_YAML = ROOT / "ros2_ws" / "src" / "gr1_sim" / "config" / "sim.yaml"
STATUS_MSG = ROOT / "ros2_ws" / "src" / "gr1_msgs" / "msg" / "PolicyStatus.msg"

# parameters naming topics the node publishes on (the others name its inputs)
POLICY_OUTPUTS = ("twist_topic", "gripper_command_topic", "action_topic", "status_topic")
SIM_OUTPUTS = ("static_camera.topic", "static_camera.info_topic", "wrist_camera.topic",
               "wrist_camera.info_topic", "joint_states_topic", "ee_pose_topic",
               "block_poses_topic")


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def published_topics() -> dict[str, str]:
    """{topic: who publishes it} with the shipped parameter files."""
    policy = _flat(yaml.safe_load(POLICY_YAML.read_text())["gr1_policy"]["ros__parameters"])
    sim = _flat(yaml.safe_load(SIM_YAML.read_text())["gr1_sim_bridge"]["ros__parameters"])
    out = {policy[k]: "gr1_policy" for k in POLICY_OUTPUTS}
    prefix = policy["predicted_frames_topic_prefix"].rstrip("/")
    for camera in ("static", "wrist"):  # with publish_predicted_frames: true
        out[f"{prefix}/{camera}"] = "gr1_policy (publish_predicted_frames)"
    for key in SIM_OUTPUTS:
        topic = sim[key]
        if topic.startswith("~/"):
            topic = "/gr1_sim_bridge/" + topic[2:]
        out[topic] = "gr1_sim_bridge"
    return out


def foxglove_references() -> list[str]:
    """Every topic or message path the layout names (paths as written: /topic.field.field)."""
    layout = json.loads(FOXGLOVE.read_text())
    refs = []
    for config in layout["configById"].values():
        mode = config.get("imageMode", {})
        refs += [mode[k] for k in ("imageTopic", "calibrationTopic") if k in mode]
        refs += [p["value"] for p in config.get("paths", [])]
        if "topicPath" in config:
            refs.append(config["topicPath"])
    return refs


def rviz_topics() -> list[str]:
    config = yaml.safe_load(RVIZ.read_text())
    return [d["Topic"]["Value"] for d in config["Visualization Manager"]["Displays"]
            if "Topic" in d]


def split_path(ref: str) -> tuple[str, list[str]]:
    """'/a/b.c.d' -> ('/a/b', ['c', 'd'])."""
    topic, *fields = ref.split(".")
    return topic, fields


def test_both_files_parse_and_have_the_expected_shape():
    layout = json.loads(FOXGLOVE.read_text())
    assert set(layout) >= {"configById", "layout"}

    def leaves(node):
        if isinstance(node, str):
            return [node]
        assert set(node) >= {"first", "second", "direction"}
        assert node["direction"] in ("row", "column")
        return leaves(node["first"]) + leaves(node["second"])

    panels = leaves(layout["layout"])
    assert sorted(panels) == sorted(layout["configById"])  # every panel placed, none missing
    kinds = {p.split("!")[0] for p in panels}
    assert kinds >= {"Image", "Plot", "RawMessages"}

    rviz = yaml.safe_load(RVIZ.read_text())
    manager = rviz["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "panda_link0"
    assert all(d["Class"].startswith("rviz_default_plugins/") for d in manager["Displays"])


@pytest.mark.parametrize("where", ["foxglove", "rviz"])
def test_every_topic_named_is_published_by_the_stack(where):
    published = published_topics()
    topics = ({split_path(r)[0] for r in foxglove_references()} if where == "foxglove"
              else set(rviz_topics()))
    unknown = sorted(topics - set(published))
    assert not unknown, f"{where} names topics nothing publishes by default: {unknown}"


@pytest.mark.parametrize("where", ["foxglove", "rviz"])
def test_both_files_show_the_cameras_predicted_frames_twist_and_status(where):
    names = ({split_path(r)[0] for r in foxglove_references()} if where == "foxglove"
             else set(rviz_topics()))
    wanted = {"/camera/static/color/image_raw", "/camera/wrist/color/image_raw",
              "/gr1/predicted/static", "/gr1/predicted/wrist", "/servo_node/delta_twist_cmds"}
    if where == "foxglove":  # RViz has no display for a custom message
        wanted.add("/gr1/status")
    assert wanted <= names


def test_foxglove_fields_exist_in_their_messages():
    status_fields = {line.split()[1] for line in STATUS_MSG.read_text().splitlines()
                     if line.strip() and not line.startswith("#") and "=" not in line}
    twist_paths = {f"twist.{part}.{axis}" for part in ("linear", "angular") for axis in "xyz"}
    plotted = {"/servo_node/delta_twist_cmds": set(), "/gr1/status": set()}
    for ref in foxglove_references():
        topic, fields = split_path(ref)
        if fields:
            assert topic in plotted, ref
            plotted[topic].add(".".join(fields))
    assert plotted["/servo_node/delta_twist_cmds"] == twist_paths  # all six components
    assert plotted["/gr1/status"] and plotted["/gr1/status"] <= status_fields


def test_docs_say_how_to_open_them():
    text = (VIS / "README.md").read_text()
    for needle in ("gr1_foxglove_layout.json", "gr1.rviz", "rviz2 -d", "foxglove_bridge",
                   "publish_predicted_frames"):
        assert needle in text
    assert re.search(r"not been opened in Foxglove or\s+RViz", text)  # never tried with a display
