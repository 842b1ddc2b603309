"""Finding a package's installed files (configs, the shipped checkpoint) in every kind of install.

Three layouts reach the same files:
- a colcon or ROS install: `<prefix>/share/<package>/...`, found through the ament index on
  AMENT_PREFIX_PATH (what `ros2 run` and `ros2 launch` see);
- the editable venv install of scripts/setup.sh: the package's source folder (the one holding its
  package.xml), whose config/, launch/ and models/ are laid out as its share folder;
- a plain (non-editable) pip install: `<sys.prefix>/share/<package>/...`.

Paths in parameters may name such a file as `package://<package>/<relative path>`, the ROS
convention, so one YAML value works in all three. No rclpy here: ament_index_python is a plain
Python package and is imported only when present.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

SCHEME = "package://"


class ResourceNotFound(FileNotFoundError):
    """A package or a file in it cannot be found; the message lists where it was looked for."""


def _ament_share(package: str) -> Path | None:
    if not os.environ.get("AMENT_PREFIX_PATH"):
        return None
    try:
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory(package))
    except (PackageNotFoundError, ValueError, LookupError):
        return None


def _source_share(package: str) -> Path | None:
    """The source folder of an editable install: the Python package's parent with package.xml."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location).resolve().parent
        if (folder / "package.xml").is_file():
            return folder
    return None


def share_candidates(package: str) -> list[Path]:
    """Where `package`'s share folder may be, best first (existing folders only)."""
    found = [_ament_share(package), _source_share(package), Path(sys.prefix) / "share" / package]
    unique: list[Path] = []
    for path in found:
        if path is not None and path.is_dir() and path not in unique:
            unique.append(path)
    return unique


def find_resource(package: str, relative: str) -> Path:
    """The first existing `<share of package>/<relative>`; ResourceNotFound names every place."""
    candidates = share_candidates(package)
    for share in candidates:
        path = share / relative
        if path.exists():
            return path
    looked = [str(share / relative) for share in candidates] or [
        f"no share folder of {package!r} (AMENT_PREFIX_PATH, the Python package, {sys.prefix}/share)"
    ]
    raise ResourceNotFound(f"{relative!r} of package {package!r} not found; looked in {looked}")


def resolve_path(value: str) -> Path:
    """A user path, or `package://<package>/<relative>` resolved with find_resource.

    `~` is expanded; other paths are returned as given (existence is the caller's check)."""
    if value.startswith(SCHEME):
        package, _, relative = value[len(SCHEME):].partition("/")
        if not package or not relative:
            raise ResourceNotFound(
                f"{value!r} is not package://<package>/<path inside its share folder>"
            )
        return find_resource(package, relative)
    return Path(value).expanduser()
