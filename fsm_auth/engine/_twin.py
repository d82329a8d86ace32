"""Compiled twins of specs, and the two questions a read-only path may ask of one.

A spec's compiled twin, ``<name>.compiled.json`` next to ``<name>.yaml``, is the parsed YAML as
JSON with the SHA-256 of the YAML bytes it was made from; ``python -m fsm_auth.engine.regen``
writes one for each shipped spec. Importing PyYAML is most of what loading a spec costs a
process that starts cold (``fsm-auth credentials`` runs once per AWS CLI command), and the JSON
parser is already loaded. A twin whose hash does not match the YAML beside it is ignored, so an
edited spec is never read stale; the YAML stays the one source.

:func:`destination` and :func:`policy_value` answer, from a twin's plain data, what the engine
answers from a built :class:`~fsm_auth.engine.Spec`: where a trigger leads from a state under
given guard values, and a state's value of a policy. They serve read paths that must not pay
for attrs and ``transitions`` (``fsm-auth credentials`` on a saved session); they never change
anything, answer ``None`` whenever the data is not what they can read with certainty, and are
property-tested against the engine for every shipped spec. This module imports neither.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import fsm_auth
from fsm_auth.errors import SpecError

__all__ = [
    "MAX_SPEC_BYTES",
    "TWIN_FORMAT",
    "compiled_twin_path",
    "destination",
    "from_compiled_twin",
    "policy_value",
    "read_spec_bytes",
    "shipped_spec_data",
    "shipped_specs_dir",
]

MAX_SPEC_BYTES = 256 * 1024
"""The largest spec file read (the other bounds are in ``_spec``)."""
TWIN_FORMAT = 1
_TWIN_SUFFIX = ".compiled.json"
_WILDCARD = "*"


def shipped_specs_dir() -> Path:
    """The directory holding the specs shipped with fsm-auth."""
    package = Path(fsm_auth.__file__).resolve().parent
    # An installed wheel has them inside the package: found without importlib.resources.
    inside = package / "specs"
    if (inside / "user_state.yaml").is_file():
        return inside
    # A checkout (an editable install): the `specs/` directory next to the package, found
    # before importlib.resources, whose import (tempfile, shutil, zipfile) would be a tenth of
    # what a cold `fsm-auth credentials` costs.
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "specs/user_state.yaml").is_file():
        return checkout / "specs"
    import importlib.resources

    try:
        shipped = importlib.resources.files("fsm_auth.specs")
        path = Path(str(shipped))
        if path.is_dir():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    # An editable install may map the `fsm_auth.specs` package nowhere (setuptools'
    # package-dir mapping is not always honoured by editable finders); the checkout's own
    # `specs/` directory, next to the `fsm_auth` package, is then the source of truth.
    return checkout / "specs"


def compiled_twin_path(path: Path) -> Path:
    """Where the compiled twin of the spec file ``path`` lives."""
    return path.with_name(path.stem + _TWIN_SUFFIX)


def read_spec_bytes(path: Path) -> bytes:
    """The bytes of the spec file ``path``; :class:`SpecError` when it cannot be read or is
    larger than :data:`MAX_SPEC_BYTES`."""
    try:
        with path.open("rb") as stream:
            # One byte more than the bound: enough to know the file is too large.
            raw = stream.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read spec ({exc.strerror or exc})") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: the spec is larger than {MAX_SPEC_BYTES // 1024} KiB")
    return raw


def from_compiled_twin(path: Path, raw: bytes) -> Any:
    """The spec document from ``path``'s compiled twin, or None when there is no usable twin
    made from these exact bytes."""
    twin = compiled_twin_path(path)
    try:
        with twin.open("rb") as stream:
            text = stream.read(4 * MAX_SPEC_BYTES + 1)
    except OSError:
        return None
    if len(text) > 4 * MAX_SPEC_BYTES:
        return None
    try:
        compiled = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if (
        not isinstance(compiled, dict)
        or compiled.get("format") != TWIN_FORMAT
        or compiled.get("source_sha256") != hashlib.sha256(raw).hexdigest()
    ):
        return None
    return compiled.get("spec")


def shipped_spec_data(name: str) -> Mapping[str, Any] | None:
    """The plain data of the shipped spec ``name`` from its compiled twin; ``None`` when the
    spec or a twin matching it is missing (the caller then loads the spec the full way)."""
    path = shipped_specs_dir() / f"{name}.yaml"
    try:
        raw = read_spec_bytes(path)
    except SpecError:
        return None
    data = from_compiled_twin(path, raw)
    return data if isinstance(data, Mapping) else None


def destination(
    spec: Mapping[str, Any], state: str, trigger: str, guards: Mapping[str, bool]
) -> str | None:
    """The state ``trigger`` leads to from ``state``, the guards having the values ``guards``
    gives: the first declared transition for the trigger leaving ``state`` whose ``conditions``
    all hold and whose ``unless`` guards all fail, as the engine takes it. ``None`` when no
    transition moves (the engine would ignore or refuse the trigger), when one needs a guard
    ``guards`` does not give, or when the data is not a spec's."""
    transitions = spec.get("transitions")
    if not isinstance(transitions, list):
        return None
    for entry in transitions:
        if not isinstance(entry, Mapping) or entry.get("trigger") != trigger:
            continue
        source = entry.get("source")
        if source != _WILDCARD and state not in _names(source):
            continue
        conditions, unless = _names(entry.get("conditions")), _names(entry.get("unless"))
        if any(name not in guards for name in (*conditions, *unless)):
            return None  # a guard this caller cannot evaluate: only the engine may decide
        if all(guards[name] for name in conditions) and not any(guards[name] for name in unless):
            if entry.get("internal", False) is True:
                return state
            dest = entry.get("dest")
            return dest if isinstance(dest, str) else None
    return None


def policy_value(spec: Mapping[str, Any], state: str, name: str) -> str | None:
    """``state``'s value of the policy ``name`` (the state's own, else the policy's default);
    ``None`` when the spec gives none or the data is not a spec's."""
    for entry in spec.get("states") or ():
        if entry == state:
            given: Any = {}
        elif isinstance(entry, Mapping) and entry.get("name") == state:
            given = entry.get("policy") or {}
        else:
            continue
        value = given.get(name) if isinstance(given, Mapping) else None
        if value is None:
            policies = spec.get("policies")
            declared = policies.get(name) if isinstance(policies, Mapping) else None
            value = declared.get("default") if isinstance(declared, Mapping) else None
        return value if isinstance(value, str) else None
    return None


def _names(value: Any) -> tuple[str, ...]:
    """A name or a list of names, as a tuple (the YAML allows both); anything else is none."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return ()
