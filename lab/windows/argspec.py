"""Module arguments checked the way the real modules check them.

- Ansible.Basic modules: the `$spec` of the module's .ps1 (read by ps_argspec), checked in the order of
  Ansible.Basic.cs CheckArguments: unsupported parameters (root: before the check-mode skip), mutually_exclusive,
  required (defaults are set in the same pass, so a defaulted option counts as given), type conversion then
  choices option by option, required_together, required_one_of, required_if, required_by, then sub-options.
  Messages are Ansible.Basic's, with " found in OPTION" for sub-options and no_log values masked
  (FailJson -> RemoveNoLogValues).
- Legacy modules (Parse-Args): Get-AnsibleParam in script order, with Legacy.psm1's Fail-Json messages.

The module documentation (DOCUMENTATION and its doc fragments) is still read for `options()`, which callers use
for documented defaults and no_log options.
"""

from __future__ import annotations

import ast
import functools
import pathlib
from collections.abc import Mapping
from typing import Any, NoReturn

import yaml

from lab.windows import environment as environment_block
from lab.windows import ps_argspec, ps_types
from lab.windows.ps_argspec import UINT32, LegacyParam

MODULES_DIR = ps_argspec.MODULES_DIR
NO_LOG_MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
DEFAULT_MODULE_NAME = "undefined win module"  # Ansible.Basic ModuleName when _ansible_module_name is not sent
# Ansible.Basic optionTypes; `sid` needs the host's accounts and no simulated module declares it.
CONVERTERS = {
    "bool": ps_types.parse_bool,
    "dict": ps_types.parse_dict,
    "float": ps_types.parse_float,
    "int": ps_types.parse_int,
    "json": ps_types.parse_json,
    "list": ps_types.parse_list,
    "raw": lambda value: value,
    "str": ps_types.to_str,
    UINT32: ps_types.to_uint32,
}
# Legacy modules parse some string options into .NET enums later (case-insensitively); the lab hands the
# handler the enum's spelling. win_acl.ps1 line 95 reads `inherit`, later cast to [InheritanceFlags].
LEGACY_ENUMS: dict[tuple[str, str], list[str]] = {
    ("win_acl", "inherit"): ["ContainerInherit", "ObjectInherit", "None"],
}


class ArgumentError(ValueError):
    """Invalid module arguments; the message is the real module's."""


# -- documentation ----------------------------------------------------------------------------------------------
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
    source = pathlib.Path(MODULES_DIR).parent / "doc_fragments" / f"{parts[2]}.py"
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


# -- validation -------------------------------------------------------------------------------------------------
def validate(
    module: str, args: Mapping[str, Any], *, environment: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The module's parameters after the real module's checks; ArgumentError with the real message otherwise.

    `environment` (the module process' variables) expands %VARS% in `path` options; None leaves them as given.
    The result holds every option under its canonical name; a choice is given in the spec's spelling (the real
    module keeps the user's spelling and compares case-insensitively, as PowerShell does).
    """
    spec = ps_argspec.module_spec(module)
    if spec.legacy:
        return _LegacyValidator(module, spec.params, environment).run(args)
    return _BasicValidator(args, environment).run(spec.spec)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


class _BasicValidator:
    """Ansible.Basic.cs AnsibleModule: GetAliases, SetNoLogValues, CheckArguments (recursively for sub-options)."""

    def __init__(self, args: Mapping[str, Any], environment: Mapping[str, str] | None) -> None:
        self.module_name = str(args.get("_ansible_module_name") or DEFAULT_MODULE_NAME)
        self.ignore_unknown = ps_types.legacy_bool(args.get("_ansible_ignore_unknown_opts", False))
        self.environment = environment
        self.context: list[str] = []
        self.no_log_values: list[str] = []
        self.args = dict(args)

    def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        params = dict(self.args)
        aliases = self._aliases(spec, params)
        self._no_log(spec, params)
        legal = [k for k in self.args if k.startswith("_ansible_")]  # the controller's pass-through variables
        legal += list(spec["options"]) + list(aliases)
        self._check(spec, params, legal)
        return {name: params.get(name) for name in spec["options"]}  # canonical names only (aliases dropped)

    # messages
    def _format(self, msg: str, prefix: str = " ") -> str:
        """FormatOptionsContext."""
        return f"{msg}{prefix}found in {' -> '.join(self.context)}" if self.context else msg

    def _fail(self, msg: str) -> NoReturn:
        """FailJson: the message with no_log values removed (RemoveNoLogValues on a string)."""
        if msg in self.no_log_values:
            raise ArgumentError(NO_LOG_MASK)
        for secret in self.no_log_values:
            if secret in msg:
                raise ArgumentError(msg.replace(secret, "********"))
        raise ArgumentError(msg)

    # setup
    def _aliases(self, spec: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
        """GetAliases: an alias' value is copied to the option (the alias key stays, it is legal)."""
        found: dict[str, str] = {}
        for name, option in spec["options"].items():
            for alias in _as_list(option.get("aliases")):
                found[alias] = name
                if alias in params:
                    params[name] = params[alias]
        return found

    def _no_log(self, spec: dict[str, Any], params: dict[str, Any]) -> None:
        for name, option in spec["options"].items():
            if option.get("no_log") and params.get(name) is not None:
                text = ps_types.to_str(params[name])
                if text and text not in self.no_log_values:
                    self.no_log_values.append(text)

    # CheckArguments
    def _check(self, spec: dict[str, Any], params: dict[str, Any], legal: list[str]) -> None:
        self._unsupported(params, legal)
        options_spec: dict[str, Any] = spec["options"]
        self._mutually_exclusive(params, spec.get("mutually_exclusive"))
        self._required(options_spec, params)
        for name, option in options_spec.items():
            if params.get(name) is not None:
                params[name] = self._convert(name, option, params[name])
        self._required_together(params, spec.get("required_together"))
        self._required_one_of(params, spec.get("required_one_of"))
        self._required_if(params, spec.get("required_if"))
        self._required_by(params, spec.get("required_by"))
        for name, option in options_spec.items():
            params.setdefault(name, None)
            self._sub_option(params, name, option)
        for name, option in options_spec.items():
            params[name] = _choice_spelling(params[name], option)


    def _unsupported(self, params: dict[str, Any], legal: list[str]) -> None:
        legal_lower = {k.lower(): k for k in legal}
        unsupported = []
        for key in list(params):
            if key.lower() not in legal_lower:
                unsupported.append(key)
            elif key not in legal:  # a case-insensitive match is accepted and renamed (CheckUnsupportedArguments)
                params[legal_lower[key.lower()]] = params.pop(key)
            elif key.startswith("_ansible_"):
                del params[key]
        if unsupported and not self.ignore_unknown:
            supported = sorted(k for k in legal if not k.startswith("_ansible_"))
            msg = f"Unsupported parameters for ({self.module_name}) module: {', '.join(sorted(unsupported))}"
            self._fail(f"{self._format(msg)}. Supported parameters include: {', '.join(supported)}")

    def _mutually_exclusive(self, params: dict[str, Any], groups: Any) -> None:
        for group in _as_list(groups):
            names = _as_list(group)
            if sum(1 for name in names if name in params) > 1:
                self._fail(self._format(f"parameters are mutually exclusive: {', '.join(names)}"))

    def _required(self, options_spec: dict[str, Any], params: dict[str, Any]) -> None:
        missing = []
        for name, option in options_spec.items():
            if option.get("default") is not None and name not in params:
                params[name] = option["default"]
            if option.get("required") and name not in params:
                missing.append(name)
        if missing:
            self._fail(self._format(f"missing required arguments: {', '.join(missing)}"))

    def _convert(self, name: str, option: dict[str, Any], value: Any) -> Any:
        kind = option.get("type", "str")
        shown_kind = "delegate" if kind == UINT32 else kind
        try:
            if kind == "path":
                converted = ps_types.parse_path(value, self.environment)
            elif kind in CONVERTERS:
                converted = CONVERTERS[kind](value)
            else:
                raise ArgumentError(f"lab.windows simulator: option type {kind} ({name}) is not simulated")
        except ps_types.ConversionError as exc:
            self._fail(
                self._format(
                    f"argument for {name} is of type {ps_types.type_name(value)} and we were unable to convert "
                    f"to {shown_kind}: {exc}"
                )
            )
        choices = [ps_types.to_str(c) for c in _as_list(option.get("choices"))]
        if not choices:
            return converted
        is_list = kind == "list"
        values = [ps_types.to_str(v) for v in (converted if is_list else [converted])]
        lowered = {c.lower(): c for c in choices}
        no_match = list(dict.fromkeys(v for v in values if v.lower() not in lowered))
        if no_match:
            self._fail(
                self._format(
                    f"value of {name} must be {'one or more of' if is_list else 'one of'}: {', '.join(choices)}. "
                    f"Got no match for: {', '.join(no_match)}"
                )
            )
        return converted

    def _required_together(self, params: dict[str, Any], groups: Any) -> None:
        for group in _as_list(groups):
            names = _as_list(group)
            present = [name in params for name in names]
            if any(present) and not all(present):
                self._fail(self._format(f"parameters are required together: {', '.join(names)}"))

    def _required_one_of(self, params: dict[str, Any], groups: Any) -> None:
        for group in _as_list(groups):
            names = _as_list(group)
            if not any(name in params for name in names):
                self._fail(self._format(f"one of the following is required: {', '.join(names)}"))

    def _required_if(self, params: dict[str, Any], checks: Any) -> None:
        for check in _as_list(checks):
            key, value, requirements = check[0], check[1], _as_list(check[2])
            any_one = bool(check[3]) if len(check) > 3 else False
            if params.get(key) is None or ps_types.to_str(params[key]) != ps_types.to_str(value):
                continue  # ParseStr comparison: case-sensitive
            missing = [name for name in requirements if name not in params]
            if len(missing) >= (len(requirements) if any_one else 1):
                term = "any" if any_one else "all"
                self._fail(
                    self._format(
                        f"{key} is {ps_types.to_str(value)} but {term} of the following are missing: "
                        f"{', '.join(missing)}"
                    )
                )

    def _required_by(self, params: dict[str, Any], mapping: Any) -> None:
        for key, required in (mapping or {}).items():
            if key not in params:
                continue
            missing = [name for name in ps_types.parse_list(required) or [] if name not in params]
            if missing:
                self._fail(self._format(f"missing parameter(s) required by '{key}': {', '.join(missing)}"))

    # CheckSubOption / ParseSubSpec
    def _sub_option(self, params: dict[str, Any], name: str, option: dict[str, Any]) -> None:
        kind, elements = option.get("type", "str"), option.get("elements")
        value = params[name]
        if kind == "list" and elements is not None:
            if value is None:
                return
            converted = []
            for element in value:
                if elements == "dict":
                    converted.append(self._sub_spec(option, element, name))
                    continue
                try:
                    converted.append(CONVERTERS[elements](element) if elements != "path" else ps_types.parse_path(
                        element, self.environment))
                except ps_types.ConversionError:
                    self._fail(
                        self._format(
                            f"argument for list entry {name} is of type {ps_types.type_name(element)} and we were "
                            f"unable to convert to {elements}: Exception has been thrown by the target of an "
                            "invocation."
                        )
                    )
            params[name] = converted
        elif kind == "dict":
            params[name] = self._sub_spec(option, value, name)

    def _sub_spec(self, option: dict[str, Any], value: Any, context: str) -> Any:
        sub_options = option.get("options") or {}
        if option.get("apply_defaults") and sub_options and value is None:
            value = {}
        elif not sub_options or value is None:
            return value
        self.context.append(context)
        try:
            params = ps_types.parse_dict(value)
        except ps_types.ConversionError as exc:  # thrown out of AnsibleModule.Create: the module never starts
            raise ArgumentError(
                "Unhandled exception while executing module: Exception calling \"Create\" with \"2\" argument(s): "
                f"\"{exc}\""
            ) from exc
        sub_spec = {**option, "options": sub_options}
        aliases = self._aliases(sub_spec, params)
        self._no_log(sub_spec, params)
        self._check(sub_spec, params, list(sub_options) + list(aliases))
        self.context.pop()
        return params


def _choice_spelling(value: Any, option: dict[str, Any]) -> Any:
    """The lab hands a choice to the handler in the spec's spelling (after every check ran on the user's)."""
    choices = {ps_types.to_str(c).lower(): c for c in _as_list(option.get("choices"))}
    if not choices or value is None:
        return value
    if isinstance(value, list):
        return [choices.get(v.lower(), v) if isinstance(v, str) else v for v in value]
    return choices.get(value.lower(), value) if isinstance(value, str) else value


class _LegacyValidator:
    """Ansible.ModuleUtils.Legacy.psm1: Get-AnsibleParam, one call after the other, as the module makes them."""

    def __init__(
        self, module: str, params: list[LegacyParam], environment: Mapping[str, str] | None
    ) -> None:
        self.module = module
        self.params = params
        self.environment = environment

    def run(self, args: Mapping[str, Any]) -> dict[str, Any]:
        given = {k: v for k, v in args.items() if not k.startswith("_ansible_")}
        lowered = {k.lower(): k for k in given}  # $complex_args is a Hashtable: keys are case-insensitive
        known = {n.lower() for p in self.params for n in [p.name, *p.aliases]}
        unknown = sorted(k for k in given if k.lower() not in known)
        if unknown:
            # Windows ignores them (the module only reads what it asks for); the lab refuses a silent typo.
            raise ArgumentError(
                f"lab.windows simulator: {self.module} does not read option(s) {', '.join(unknown)} (a legacy "
                "Parse-Args module ignores them on Windows; the lab refuses them so that a typo cannot pass)"
            )
        result: dict[str, Any] = {name: None for name in options(self.module)}
        for param in self.params:
            result[param.name] = self._get(param, given, lowered)
        return result

    def _get(self, param: LegacyParam, given: dict[str, Any], lowered: dict[str, str]) -> Any:
        found = next((n for n in [param.name, *param.aliases] if n.lower() in lowered), None)
        if found is None:
            if param.failifempty is True:
                raise ArgumentError(f"Get-AnsibleParam: Missing required argument: {param.name}")
            value = None if isinstance(param.default, ps_argspec.Expression) else param.default
        else:
            value = given[lowered[found.lower()]]
            if param.validateset is not None:
                allowed = {ps_types.to_str(v).lower(): v for v in param.validateset}
                if value is None or ps_types.interpolate(value).lower() not in allowed:
                    raise ArgumentError(
                        f"Get-AnsibleParam: Argument {found} needs to be one of "
                        f"{','.join(map(ps_types.to_str, param.validateset))} but was {ps_types.interpolate(value)}."
                    )
                value = allowed[ps_types.interpolate(value).lower()]
        if value is None:
            return None
        return self._typed(param, value)

    def _typed(self, param: LegacyParam, value: Any) -> Any:
        if param.type == "str":
            enum = LEGACY_ENUMS.get((self.module, param.name)) or [
                str(c) for c in options(self.module).get(param.name, {}).get("choices") or []
            ]
            return _enum_spelling(ps_types.to_str(value), enum)
        return legacy_typed(param.name, param.type, value, self.environment)


def legacy_typed(name: str, kind: str | None, value: Any, environment: Mapping[str, str] | None) -> Any:
    """Get-AnsibleParam's `-type` conversion of a non-null value (Legacy.psm1 lines 216-270); ArgumentError carries
    its Fail-Json message. `path` expands the environment variables of `environment` (when given)."""
    if kind == "path":
        text = ps_types.to_str(value)
        if environment is not None:
            text = environment_block.expand_with(text, environment)
        if any(char in ps_types.INVALID_PATH_CHARS for char in text):
            raise ArgumentError(f"Get-AnsibleParam: Parameter '{name}' has an invalid path '{text}' specified.")
        return text
    if kind == "str":
        return ps_types.to_str(value)  # $value.ToString()
    if kind == "bool":
        return ps_types.legacy_bool(value)
    if kind == "int":
        return ps_types.as_int(value)
    if kind == "float":
        number = ps_types.ps_number(value)
        return None if number is None or isinstance(value, (list, Mapping)) else float(number)
    if kind == "list":
        if isinstance(value, list):
            return value
        if isinstance(value, str):
            return [part.strip() for part in value.split(",")]
        if isinstance(value, int) and not isinstance(value, bool):
            return [value]
        raise ArgumentError(f"Get-AnsibleParam: Parameter '{name}' is not a YAML list.")
    return value  # no -type, or one Legacy.psm1 does not convert


def _enum_spelling(text: str, names: list[str]) -> str:
    """'containerinherit, objectinherit' -> 'ContainerInherit, ObjectInherit' when every flag is a known name."""
    if not names:
        return text
    lowered = {n.lower(): n for n in names}
    flags = [flag.strip() for flag in text.split(",")]
    if all(flag.lower() in lowered for flag in flags):
        return ", ".join(lowered[flag.lower()] for flag in flags)
    return text
