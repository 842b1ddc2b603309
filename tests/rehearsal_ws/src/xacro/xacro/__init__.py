"""TEST STAND-IN for the real xacro: the small subset our stand-in robot files use.

    xacro FILE [name:=value ...]

Supports <xacro:arg name=".." default=".."/>, $(arg name), $(find pkg), <xacro:if value=..>
and <xacro:unless value=..> with true/false/1/0. Anything else xacro-specific (macros, ${...}
expressions, includes) is refused, as is an $(arg) with neither a value nor a default (the real
xacro fails there too). Prints the processed XML to stdout, like the real one.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET

NS = "http://www.ros.org/wiki/xacro"
_SUBST = re.compile(r"\$\((arg|find)\s+([^)\s]+)\)")


class XacroError(RuntimeError):
    pass


def _find(package: str) -> str:
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        return get_package_share_directory(package)
    except PackageNotFoundError as exc:
        raise XacroError(f"$(find {package}): package not found") from exc


def _text(value: str, args: dict[str, str]) -> str:
    if "${" in value:
        raise XacroError(f"expressions ${{...}} are not supported by this stand-in: {value!r}")

    def sub(match: re.Match) -> str:
        kind, name = match.groups()
        if kind == "find":
            return _find(name)
        if name not in args:
            raise XacroError(f"Undefined substitution argument {name}")
        return args[name]

    return _SUBST.sub(sub, value)


def _truth(value: str) -> bool:
    low = value.strip().lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise XacroError(f"invalid boolean value {value!r} in xacro:if/unless")


def _process(element: ET.Element, args: dict[str, str], given: dict[str, str]) -> None:
    for key, value in list(element.attrib.items()):
        element.attrib[key] = _text(value, args)
    if element.text:
        element.text = _text(element.text, args)
    out: list[ET.Element] = []
    for child in list(element):
        tag = child.tag
        if isinstance(tag, str) and tag.startswith("{" + NS + "}"):
            name = tag[len(NS) + 2:]
            if name == "arg":
                arg = child.attrib["name"]
                if arg not in given and "default" in child.attrib:
                    args[arg] = _text(child.attrib["default"], args)
                continue
            if name in ("if", "unless"):
                keep = _truth(_text(child.attrib["value"], args)) == (name == "if")
                if keep:
                    _process(child, args, given)
                    out.extend(list(child))
                continue
            raise XacroError(f"xacro:{name} is not supported by this stand-in")
        _process(child, args, given)
        out.append(child)
    tail = element.tail
    for child in list(element):
        element.remove(child)
    element.extend(out)
    element.tail = tail


def process(path: str, mappings: dict[str, str]) -> str:
    ET.register_namespace("xacro", NS)
    tree = ET.parse(path)
    root = tree.getroot()
    args = dict(mappings)
    _process(root, args, mappings)
    return ET.tostring(root, encoding="unicode")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    files = [a for a in argv if ":=" not in a and not a.startswith("-")]
    mappings = dict(a.split(":=", 1) for a in argv if ":=" in a)
    if len(files) != 1:
        print("usage: xacro FILE [name:=value ...]", file=sys.stderr)
        return 2
    try:
        print('<?xml version="1.0" ?>\n' + process(files[0], mappings))
    except (XacroError, ET.ParseError, OSError, KeyError) as exc:
        print(f"error: {exc} [in {files[0]}]", file=sys.stderr)
        return 2
    return 0
