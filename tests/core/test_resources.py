"""gr1_core.resources: a package's files in a colcon/ROS install, an editable venv install, and
package:// paths in parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from gr1_core.resources import ResourceNotFound, find_resource, resolve_path

ROOT = Path(__file__).resolve().parents[2]


def _fake_install(prefix: Path, package: str, relative: str) -> Path:
    """A colcon-style install prefix holding `package` in its ament index and one file."""
    index = prefix / "share/ament_index/resource_index/packages"
    index.mkdir(parents=True)
    (index / package).write_text("")
    target = prefix / "share" / package / relative
    target.parent.mkdir(parents=True)
    target.write_text("from the install\n")
    return target


def test_ament_index_wins_over_the_source_folder(tmp_path: Path, monkeypatch) -> None:
    target = _fake_install(tmp_path / "install", "gr1_sim", "config/sim.yaml")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path / "install"))
    assert find_resource("gr1_sim", "config/sim.yaml") == target
    assert resolve_path("package://gr1_sim/config/sim.yaml") == target


def test_editable_install_uses_the_source_folder(monkeypatch) -> None:
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    found = find_resource("gr1_sim", "config/sim.yaml")
    assert found == ROOT / "ros2_ws/src/gr1_sim/config/sim.yaml"
    # The shipped checkpoint is reachable the same way as in an install (models/ is a link).
    model = resolve_path("package://gr1_sim/models/gr1-sim")
    assert (model / "config.json").is_file()
    assert model.resolve() == (ROOT / "models/gr1-sim").resolve()


def test_a_missing_file_names_where_it_looked(tmp_path: Path, monkeypatch) -> None:
    _fake_install(tmp_path / "install", "gr1_sim", "config/sim.yaml")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path / "install"))
    with pytest.raises(ResourceNotFound) as err:
        find_resource("gr1_sim", "models/nothing-here")
    text = str(err.value)
    assert "models/nothing-here" in text and str(tmp_path / "install") in text


@pytest.mark.parametrize("value", ["package://", "package://gr1_sim", "package:///config/x"])
def test_malformed_package_urls_are_refused(value: str) -> None:
    with pytest.raises(ResourceNotFound, match="package://<package>/"):
        resolve_path(value)


def test_unknown_package_is_refused(monkeypatch) -> None:
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    with pytest.raises(ResourceNotFound, match="no_such_pkg"):
        resolve_path("package://no_such_pkg/config/x.yaml")


def test_plain_paths_pass_through(tmp_path: Path) -> None:
    assert resolve_path(str(tmp_path)) == tmp_path
    assert resolve_path("~/x") == Path("~/x").expanduser()
