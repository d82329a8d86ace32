"""Spec loading and validation: a state machine declared as data."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

import fsm_auth
from fsm_auth.errors import SpecError

__all__ = ["Spec", "Transition", "shipped_spec_names", "shipped_specs_dir"]

_TOP_KEYS = frozenset(
    {"name", "initial", "states", "transitions", "description", "allow_unreachable", "guards"}
)
_STATE_KEYS = frozenset({"name", "description"})
_TRANSITION_KEYS = frozenset({"trigger", "source", "dest", "conditions", "unless", "description"})
# `x-` keys are free for tools and other layers (provider hints, UI labels); the engine keeps
# them in `Spec.state_info` / `Transition.extra` and otherwise ignores them.
_EXTENSION_PREFIX = "x-"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# `transitions` binds these names on the model; a trigger with one of them would shadow it.
_RESERVED_TRIGGERS = frozenset({"state", "trigger", "may_trigger"})
_WILDCARD = "*"


@attrs.frozen
class Transition:
    """One declared transition: ``trigger`` moves any of ``sources`` to ``dest``.

    It is taken when every guard in ``conditions`` is true and every guard in ``unless`` is
    false. ``sources`` has ``"*"`` already expanded to every state.
    """

    trigger: str
    sources: tuple[str, ...]
    dest: str
    conditions: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    description: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False, repr=False)

    @property
    def guarded(self) -> bool:
        """True when the transition has at least one guard."""
        return bool(self.conditions or self.unless)


@attrs.frozen
class Spec:
    """A validated state machine: states, an initial state, and transitions between them.

    Build one with :meth:`Spec.load`. Instances are immutable.
    """

    name: str
    initial: str
    states: tuple[str, ...]
    transitions: tuple[Transition, ...]
    description: str | None = None
    source: Path | None = None
    allow_unreachable: tuple[str, ...] = ()
    guard_defaults: Mapping[str, bool] = attrs.field(factory=dict, hash=False)
    _state_info: Mapping[str, Mapping[str, Any]] = attrs.field(
        factory=dict, hash=False, repr=False, alias="state_info"
    )

    @classmethod
    def load(cls, source: Spec | str | os.PathLike[str] | Mapping[str, Any]) -> Spec:
        """Load and validate a spec from a YAML file, a shipped spec name, or a mapping.

        ``source`` is a path (``.yaml``/``.yml``), the name of a spec shipped with fsm-auth
        (``"user_state"``), or an already-parsed mapping. Every fault raises :class:`SpecError`
        naming the file (or, for a mapping, the spec) and the fault:

        - invalid YAML, a duplicate mapping key, or a document that is not a mapping;
        - an unknown key at the top level, in a state or in a transition (keys starting with
          ``x-`` are free for extensions and kept in ``state_info`` / ``Transition.extra``);
        - a missing or undeclared ``initial``, duplicate or malformed state names;
        - a transition from or to an undeclared state, or a malformed trigger or guard name;
        - an ambiguous trigger: from one source, an unguarded transition followed by another
          transition for the same trigger (the later one could never be taken);
        - an unreachable state (not reachable from ``initial`` when every guard may pass).
          Unreachability is an error because it is nearly always a typo; a state that is
          meant to be entered only from outside can be listed in ``allow_unreachable``.

        Guards the engine's context does not provide are reported by ``Engine``, which knows
        the context.
        """
        if isinstance(source, Spec):
            return source
        if isinstance(source, Mapping):
            name = source.get("name")
            label = f"spec {name!r}" if isinstance(name, str) and name else "spec <mapping>"
            return _build(source, label, None)
        if not isinstance(source, (str, os.PathLike)):
            raise SpecError(
                f"spec <{type(source).__name__}>: a spec must be a mapping, a path or a shipped "
                f"spec name, got {type(source).__name__}"
            )
        path = _resolve_path(source)
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = -1  # _read_yaml reports the missing or unreadable file
        return _load_file(path, stamp)

    @property
    def triggers(self) -> tuple[str, ...]:
        """Every trigger, once each, in the order of first declaration."""
        return tuple(dict.fromkeys(t.trigger for t in self.transitions))

    @property
    def guards(self) -> tuple[str, ...]:
        """Every guard name used by a transition, sorted."""
        return tuple(sorted({g for t in self.transitions for g in (*t.conditions, *t.unless)}))

    def state_info(self, state: str) -> Mapping[str, Any]:
        """The extra keys declared for ``state`` (e.g. ``description``); empty if none."""
        if state not in self._state_info and state not in self.states:
            raise KeyError(state)
        return MappingProxyType(dict(self._state_info.get(state, {})))

    def transitions_from(self, state: str, trigger: str | None = None) -> tuple[Transition, ...]:
        """The transitions leaving ``state`` (for ``trigger`` only, if given), in order."""
        return tuple(
            t
            for t in self.transitions
            if state in t.sources and (trigger is None or t.trigger == trigger)
        )

    def to_mapping(self) -> dict[str, Any]:
        """A plain mapping that :meth:`load` turns back into an equal spec (minus ``source``)."""
        mapping: dict[str, Any] = {"name": self.name, "initial": self.initial}
        if self.description is not None:
            mapping["description"] = self.description
        if self.allow_unreachable:
            mapping["allow_unreachable"] = list(self.allow_unreachable)
        if self.guard_defaults:
            mapping["guards"] = {name: {"default": v} for name, v in self.guard_defaults.items()}
        mapping["states"] = [{"name": s, **self._state_info.get(s, {})} for s in self.states]
        transitions: list[dict[str, Any]] = []
        for t in self.transitions:
            entry: dict[str, Any] = {
                "trigger": t.trigger,
                "source": list(t.sources),
                "dest": t.dest,
            }
            if t.conditions:
                entry["conditions"] = list(t.conditions)
            if t.unless:
                entry["unless"] = list(t.unless)
            if t.description is not None:
                entry["description"] = t.description
            entry.update(t.extra)
            transitions.append(entry)
        mapping["transitions"] = transitions
        return mapping


def shipped_specs_dir() -> Path:
    """The directory holding the specs shipped with fsm-auth."""
    import importlib.resources  # here, not at import: it pulls in tempfile, shutil, zipfile

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
    return Path(fsm_auth.__file__).resolve().parent.parent / "specs"


def shipped_spec_names() -> tuple[str, ...]:
    """The names of every spec shipped with fsm-auth (``specs/*.yaml``), sorted."""
    return tuple(sorted(p.stem for p in shipped_specs_dir().glob("*.yaml")))


def _resolve_path(source: str | os.PathLike[str]) -> Path:
    if isinstance(source, str) and _IDENTIFIER.match(source):
        shipped = shipped_specs_dir() / f"{source}.yaml"
        if shipped.is_file():
            return shipped
        if not Path(source).exists():
            names = ", ".join(shipped_spec_names()) or "none"
            raise SpecError(f"{source}: no shipped spec of that name (shipped: {names})")
    return Path(source)


@functools.cache
def _unique_key_loader() -> type[Any]:
    """A safe YAML loader that refuses duplicate mapping keys instead of keeping the last one.

    Built on first use: PyYAML is imported only when a spec file is read.
    """
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        seen: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen[key] = loader.construct_object(value_node, deep=True)
        return seen

    UniqueKeyLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_unique_mapping
    )
    return UniqueKeyLoader


@functools.lru_cache(maxsize=64)
def _load_file(path: Path, stamp: int) -> Spec:
    """A spec file, parsed and validated once per version (``stamp``: its mtime)."""
    del stamp  # part of the cache key only: an edited file is read again
    return _build(_read_yaml(path), str(path), path)


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read spec ({exc.strerror or exc})") from None
    try:
        return yaml.load(text, Loader=_unique_key_loader())  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: invalid YAML: {exc}") from None


def _names(value: Any, label: str, what: str) -> tuple[str, ...]:
    """A name or a list of names, as a tuple; used for sources and guards."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        raise SpecError(f"{label}: {what} must be a name or a list of names, got {value!r}")
    return tuple(items)


def _check_keys(
    mapping: Mapping[Any, Any], allowed: frozenset[str], label: str, where: str
) -> None:
    unknown = [
        k
        for k in mapping
        if not (isinstance(k, str) and (k in allowed or k.startswith(_EXTENSION_PREFIX)))
    ]
    if unknown:
        listed = ", ".join(repr(k) for k in unknown)
        raise SpecError(
            f"{label}: unknown key(s) {listed} in {where} (allowed: {', '.join(sorted(allowed))})"
        )


def _build(data: Any, label: str, path: Path | None) -> Spec:
    if not isinstance(data, Mapping):
        raise SpecError(f"{label}: a spec must be a mapping, got {type(data).__name__}")
    _check_keys(data, _TOP_KEYS, label, "the spec")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError(f"{label}: missing or empty 'name'")
    description = _optional_text(data.get("description"), label, "the spec's description")
    states, state_info = _parse_states(data.get("states"), label)
    initial = data.get("initial")
    if initial is None:
        raise SpecError(f"{label}: missing 'initial'")
    if initial not in states:
        raise SpecError(f"{label}: initial state {initial!r} is not a declared state")
    transitions = _parse_transitions(data.get("transitions"), states, label)
    _check_ambiguity(transitions, label)
    allow_unreachable = _names(data.get("allow_unreachable", []), label, "'allow_unreachable'")
    for state in allow_unreachable:
        if state not in states:
            raise SpecError(f"{label}: allow_unreachable names undeclared state {state!r}")
    _check_reachability(initial, states, transitions, allow_unreachable, label)
    guard_defaults = _parse_guards(data.get("guards", {}), transitions, label)
    return Spec(
        name=name,
        initial=initial,
        states=states,
        transitions=transitions,
        description=description,
        source=path,
        allow_unreachable=allow_unreachable,
        guard_defaults=MappingProxyType(guard_defaults),
        state_info=MappingProxyType(state_info),
    )


def _parse_guards(data: Any, transitions: tuple[Transition, ...], label: str) -> dict[str, bool]:
    """The ``guards`` section: ``name: {default: bool, description: text}`` (or ``name: bool``).

    A declared default is used when the engine's context does not provide the guard, so a spec
    with guards still runs on its own (``Engine(spec)``), e.g. to draw or explore it.
    """
    if not isinstance(data, Mapping):
        raise SpecError(f"{label}: 'guards' must be a mapping of guard name to its declaration")
    used = {g for t in transitions for g in (*t.conditions, *t.unless)}
    defaults: dict[str, bool] = {}
    for name, entry in data.items():
        if name not in used:
            raise SpecError(f"{label}: guard {name!r} is declared but no transition uses it")
        if isinstance(entry, Mapping):
            _check_keys(entry, frozenset({"default", "description"}), label, f"guard {name!r}")
            _optional_text(entry.get("description"), label, f"guard {name!r}'s description")
            entry = entry.get("default")
        if not isinstance(entry, bool):
            raise SpecError(f"{label}: guard {name!r} needs a boolean default")
        defaults[name] = entry
    return defaults


def _optional_text(value: Any, label: str, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise SpecError(f"{label}: {what} must be text")
    return value


def _parse_states(raw: Any, label: str) -> tuple[tuple[str, ...], dict[str, Mapping[str, Any]]]:
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{label}: 'states' must be a non-empty list")
    states: list[str] = []
    info: dict[str, Mapping[str, Any]] = {}
    for index, entry in enumerate(raw):
        where = f"state #{index + 1}"
        if isinstance(entry, Mapping):
            _check_keys(entry, _STATE_KEYS, label, where)
            state = entry.get("name")
            extra = {k: v for k, v in entry.items() if k != "name"}
            _optional_text(extra.get("description"), label, f"{where}'s description")
        else:
            state, extra = entry, {}
        if not isinstance(state, str) or not state or state == _WILDCARD:
            raise SpecError(f"{label}: {where} has no valid name (got {state!r})")
        if state in info:
            raise SpecError(f"{label}: duplicate state {state!r}")
        states.append(state)
        info[state] = MappingProxyType(extra)
    return tuple(states), info


def _parse_transitions(raw: Any, states: tuple[str, ...], label: str) -> tuple[Transition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SpecError(f"{label}: 'transitions' must be a list")
    declared = set(states)
    parsed: list[Transition] = []
    for index, entry in enumerate(raw):
        where = f"transition #{index + 1}"
        if not isinstance(entry, Mapping):
            raise SpecError(f"{label}: {where} must be a mapping")
        trigger = entry.get("trigger")
        if isinstance(trigger, str):
            where = f"{where} ({trigger!r})"
        _check_keys(entry, _TRANSITION_KEYS, label, where)
        if not isinstance(trigger, str) or not _IDENTIFIER.match(trigger):
            raise SpecError(f"{label}: {where} needs a 'trigger' that is an identifier")
        if trigger in _RESERVED_TRIGGERS:
            raise SpecError(f"{label}: {where}: trigger name {trigger!r} is reserved")
        for key in ("source", "dest"):
            if key not in entry:
                raise SpecError(f"{label}: {where} is missing '{key}'")
        source = entry["source"]
        sources = states if source == _WILDCARD else _names(source, label, f"{where}'s source")
        for state in sources:
            if state not in declared:
                raise SpecError(f"{label}: {where} leaves from undeclared state {state!r}")
        if len(set(sources)) != len(sources):
            raise SpecError(f"{label}: {where} lists a source twice")
        dest = entry["dest"]
        if dest not in declared:
            raise SpecError(f"{label}: {where} goes to undeclared state {dest!r}")
        guards = {}
        for key in ("conditions", "unless"):
            guards[key] = _names(entry.get(key, []), label, f"{where}'s {key}")
            for guard in guards[key]:
                if not _IDENTIFIER.match(guard):
                    raise SpecError(f"{label}: {where}: guard {guard!r} is not an identifier")
        parsed.append(
            Transition(
                trigger=trigger,
                sources=sources,
                dest=dest,
                conditions=guards["conditions"],
                unless=guards["unless"],
                description=_optional_text(
                    entry.get("description"), label, f"{where}'s description"
                ),
                extra=MappingProxyType(
                    {k: v for k, v in entry.items() if k.startswith(_EXTENSION_PREFIX)}
                ),
            )
        )
    return tuple(parsed)


def _check_ambiguity(transitions: Iterable[Transition], label: str) -> None:
    # Transitions are tried in declaration order and the first whose guards pass wins, so an
    # unguarded one hides every later one for the same trigger and source.
    unguarded: dict[tuple[str, str], int] = {}
    for index, t in enumerate(transitions):
        for source in t.sources:
            key = (t.trigger, source)
            if key in unguarded:
                raise SpecError(
                    f"{label}: ambiguous trigger {t.trigger!r} from state {source!r}: "
                    f"transition #{unguarded[key] + 1} has no guard, so "
                    f"transition #{index + 1} could never be taken"
                )
            if not t.guarded:
                unguarded[key] = index


def _check_reachability(
    initial: str,
    states: tuple[str, ...],
    transitions: tuple[Transition, ...],
    allowed: tuple[str, ...],
    label: str,
) -> None:
    edges: dict[str, set[str]] = {s: set() for s in states}
    for t in transitions:
        for source in t.sources:
            edges[source].add(t.dest)
    seen = {initial}
    frontier = [initial]
    while frontier:
        for dest in edges[frontier.pop()]:
            if dest not in seen:
                seen.add(dest)
                frontier.append(dest)
    unreachable = [s for s in states if s not in seen and s not in allowed]
    if unreachable:
        raise SpecError(
            f"{label}: state(s) {', '.join(map(repr, unreachable))} cannot be reached from "
            f"{initial!r} (list them in 'allow_unreachable' if that is intended)"
        )
