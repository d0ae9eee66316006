"""Module option specs read from the installed ansible.windows collection; Ansible.Basic-like validation."""

from __future__ import annotations

import ast
import functools
import pathlib
from typing import Any

import ansible_collections.ansible.windows.plugins.modules as _modules_pkg
import yaml

MODULES_DIR = pathlib.Path(_modules_pkg.__file__).parent
TRUE_WORDS = {"yes", "on", "1", "true", "y", "t"}
FALSE_WORDS = {"no", "off", "0", "false", "n", "f"}


# Where the real module accepts more than its documented choices. win_acl parses `inherit` with the legacy
# argument parser into the InheritanceFlags enum, which also has `None` (the docs list only two flags).
EXTRA_CHOICES: dict[tuple[str, str], list[str]] = {("win_acl", "inherit"): ["None"]}


class ArgumentError(ValueError):
    """Invalid module arguments; the message mirrors Ansible.Basic's wording."""


@functools.cache
def documentation(module: str) -> dict[str, Any]:
    """The DOCUMENTATION block of ansible.windows.<module> (from <module>.py or the <module>.yml sidecar)."""
    py_file = MODULES_DIR / f"{module}.py"
    yml_file = MODULES_DIR / f"{module}.yml"
    if py_file.exists():
        tree = ast.parse(py_file.read_text(encoding="utf-8"))
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "DOCUMENTATION"
            ):
                return yaml.safe_load(ast.literal_eval(node.value)) or {}
        raise LookupError(f"{py_file} has no DOCUMENTATION")
    if yml_file.exists():
        return (yaml.safe_load(yml_file.read_text(encoding="utf-8")) or {}).get("DOCUMENTATION") or {}
    raise LookupError(f"ansible.windows.{module} is not installed in {MODULES_DIR}")


@functools.cache
def fragment_options(name: str) -> dict[str, dict[str, Any]]:
    """Options of a doc fragment such as `ansible.windows.web_request` (in plugins/doc_fragments/)."""
    parts = name.split(".")
    if len(parts) < 3 or parts[:2] != ["ansible", "windows"]:
        raise LookupError(f"doc fragment {name} is not from the ansible.windows collection")
    source = MODULES_DIR.parent / "doc_fragments" / f"{parts[2]}.py"
    attribute = parts[3].upper() if len(parts) > 3 else "DOCUMENTATION"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == attribute
        ):
            return dict((yaml.safe_load(ast.literal_eval(node.value)) or {}).get("options") or {})
    raise LookupError(f"{source} has no {attribute}")


def options(module: str) -> dict[str, dict[str, Any]]:
    """The module's documented options, including those of its ansible.windows doc fragments."""
    doc = documentation(module)
    merged: dict[str, dict[str, Any]] = {}
    fragments = doc.get("extends_documentation_fragment") or []
    for fragment in [fragments] if isinstance(fragments, str) else fragments:
        merged.update(fragment_options(fragment))
    merged.update(doc.get("options") or {})
    return merged


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ArgumentError(
        f"argument for {name} is of type {type(value).__name__} and we were unable to convert to bool"
    )


def _convert(name: str, option: dict[str, Any], value: Any) -> Any:
    kind = option.get("type", "str")
    if value is None:
        return None
    if kind in ("str", "path"):
        if isinstance(value, (dict, list)):
            raise ArgumentError(
                f"argument for {name} is of type {type(value).__name__} and we were unable to convert to str"
            )
        return (
            value
            if isinstance(value, str)
            else (str(value).lower() if isinstance(value, bool) else str(value))
        )
    if kind == "bool":
        return _to_bool(name, value)
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ArgumentError(
                f"argument for {name} is of type {type(value).__name__} and we were unable to convert to int"
            ) from exc
    if kind == "float":
        return float(value)
    if kind == "list":
        items = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
        element = option.get("elements")
        if element:
            items = [_convert(f"{name} element", {"type": element}, item) for item in items]
        return items
    if kind == "dict":
        if not isinstance(value, dict):
            raise ArgumentError(
                f"argument for {name} is of type {type(value).__name__} and we were unable to convert to dict"
            )
        return value
    return value  # raw / sid / json


def validate(module: str, args: dict[str, Any]) -> dict[str, Any]:
    """Apply aliases, defaults, types, choices and required options the way Ansible.Basic does."""
    spec = options(module)
    alias_to_name: dict[str, str] = {}
    for name, option in spec.items():
        alias_to_name[name] = name
        for alias in option.get("aliases") or []:
            alias_to_name[alias] = name
    supplied = {k: v for k, v in args.items() if not k.startswith("_ansible_")}
    unknown = sorted(k for k in supplied if k not in alias_to_name)
    if unknown:
        supported = ", ".join(
            sorted(
                f"{name} ({', '.join(spec[name].get('aliases'))})" if spec[name].get("aliases") else name
                for name in spec
            )
        )
        raise ArgumentError(
            f"Unsupported parameters for ({module}) module: {', '.join(unknown)}. "
            f"Supported parameters include: {supported}"
        )
    params: dict[str, Any] = {}
    for key, value in supplied.items():
        name = alias_to_name[key]
        if name in params and params[name] is not None and key != name:
            continue
        params[name] = value
    missing = sorted(
        name for name, option in spec.items() if option.get("required") and params.get(name) is None
    )
    if missing:
        raise ArgumentError(f"missing required arguments: {', '.join(missing)}")
    for name, option in spec.items():
        if params.get(name) is None and "default" in option:
            params[name] = option["default"]
        params[name] = _convert(name, option, params.get(name))
        choices = option.get("choices")
        if choices:
            choices = [*choices, *EXTRA_CHOICES.get((module, name), [])]
        value = params[name]
        if choices and value is not None:
            # a str option may carry comma separated flags (win_acl: 'ContainerInherit, ObjectInherit')
            flags = isinstance(value, str) and "," in value and all("," not in str(c) for c in choices)
            values = (
                value
                if isinstance(value, list)
                else ([v.strip() for v in value.split(",")] if flags else [value])
            )
            fixed = []
            for item in values:
                match = next((c for c in choices if str(c).lower() == str(item).lower()), None)
                if match is None:
                    raise ArgumentError(
                        f"value of {name} must be one of: {', '.join(map(str, choices))}. "
                        f"Got no match for: {item}"
                    )
                fixed.append(match)
            params[name] = fixed if isinstance(value, list) else (", ".join(fixed) if flags else fixed[0])
    return params
