"""The machinery behind gr1_policy.params: a dataclass field that is also a parameter
declaration (`_p`), the flattened ParamSpec, type coercion and range checks, building the typed
config back from flat values. No ROS, no node-specific knowledge: params.py holds what the node's
parameters are, this module how any such schema works.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class ParamError(ValueError):
    """One or more parameter values are invalid; the message lists every problem."""


def param(
    default: Any,
    unit: str,
    description: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: Sequence[str] | None = None,
    length: int | None = None,
) -> Any:
    """A dataclass field that is also a parameter declaration."""
    meta = {
        "unit": unit,
        "description": description,
        "min": min,
        "max": max,
        "choices": tuple(choices) if choices else None,
        "length": length,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter, flattened out of PolicyParams."""

    name: str  # ROS name, dotted for groups
    type: type  # bool, int, float, str, or tuple (element type in elem_type)
    default: Any
    unit: str
    description: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    length: int | None = None
    elem_type: type | None = None

    def constraint_text(self) -> str:
        parts = []
        if self.choices:
            parts.append("one of " + ", ".join(self.choices))
        if self.min is not None or self.max is not None:
            parts.append(f"[{self.min}, {self.max}]")
        if self.length is not None:
            parts.append(f"{self.length} values")
        return "; ".join(parts)


def walk(cls: type, prefix: str = "") -> list[ParamSpec]:
    hints = typing.get_type_hints(cls)
    specs: list[ParamSpec] = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            specs.extend(walk(hint, prefix + f.name + "."))
            continue
        elem = None
        if typing.get_origin(hint) is tuple:
            elem = typing.get_args(hint)[0]
            kind: type = tuple
        else:
            kind = hint
        m = f.metadata
        specs.append(ParamSpec(
            name=prefix + f.name, type=kind, default=f.default, unit=m["unit"],
            description=m["description"], min=m["min"], max=m["max"], choices=m["choices"],
            length=m["length"], elem_type=elem))
    return specs


def coerce(spec: ParamSpec, value: Any) -> Any:
    """Return value as the spec's Python type; raise ValueError naming the problem."""
    if spec.type is tuple:
        if not isinstance(value, (list, tuple)) and not hasattr(value, "tolist"):
            raise ValueError(f"expected a list, got {value!r}")
        items = list(value.tolist() if hasattr(value, "tolist") else value)
        if spec.elem_type is float:
            items = [float(v) for v in items]
        return tuple(items)
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # YAML "30" for a float is a common slip; accept it
    if not isinstance(value, spec.type) or (spec.type is int and isinstance(value, bool)):
        raise ValueError(f"expected {spec.type.__name__}, got {value!r}")
    return value


def problems(spec: ParamSpec, value: Any) -> list[str]:
    out = []
    values = value if spec.type is tuple else (value,)
    if spec.length is not None and len(values) != spec.length:
        out.append(f"{spec.name}: needs {spec.length} values, got {len(values)}")
    for v in values:
        if isinstance(v, float) and not math.isfinite(v):
            out.append(f"{spec.name}: {v} is not finite")
        elif spec.min is not None and v < spec.min:
            out.append(f"{spec.name}: {v} is below the minimum {spec.min} {spec.unit}")
        elif spec.max is not None and v > spec.max:
            out.append(f"{spec.name}: {v} is above the maximum {spec.max} {spec.unit}")
    if spec.choices and value not in spec.choices:
        out.append(f"{spec.name}: {value!r} is not one of {', '.join(spec.choices)}")
    return out


def build(cls: type, flat: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            kwargs[f.name] = build(hints[f.name], flat, prefix + f.name + ".")
        else:
            kwargs[f.name] = flat[prefix + f.name]
    return cls(**kwargs)


def yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '""' if value == "" else f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    return repr(value)


def ros_descriptor(spec: ParamSpec, note: str, read_only: bool = False) -> Any:
    """The rcl ParameterDescriptor of `spec`: description with its unit, constraints and `note`
    (when it takes effect), ROS ranges for scalars (arrays are checked by `problems`)."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

    constraints = "; ".join(c for c in (spec.constraint_text(), note) if c)
    desc = ParameterDescriptor(description=f"{spec.description} [unit: {spec.unit}]",
                               additional_constraints=constraints, read_only=read_only)
    if spec.type is float and spec.min is not None and spec.max is not None:
        desc.floating_point_range = [FloatingPointRange(from_value=float(spec.min),
                                                        to_value=float(spec.max))]
    elif spec.type is int and spec.min is not None and spec.max is not None:
        desc.integer_range = [IntegerRange(from_value=int(spec.min), to_value=int(spec.max))]
    return desc
