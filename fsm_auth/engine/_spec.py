"""Spec loading and validation: a state machine declared as data."""

from __future__ import annotations

import copy
import functools
import itertools
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import attrs

from fsm_auth.errors import SpecError

from ._twin import (
    TWIN_FORMAT,
    from_compiled_twin,
    read_spec_bytes,
    shipped_specs_dir,
)

__all__ = ["Policy", "Spec", "Transition", "shipped_spec_names", "shipped_specs_dir"]

_TOP_KEYS = frozenset(
    {
        "name",
        "initial",
        "states",
        "transitions",
        "description",
        "allow_unreachable",
        "guards",
        "policies",
    }
)
_STATE_KEYS = frozenset({"name", "description", "on_enter", "on_exit", "ignore", "policy"})
# The state keys that are rules the engine runs; the others are kept in `state_info`.
_STATE_RULE_KEYS = frozenset({"on_enter", "on_exit", "ignore", "policy"})
_TRANSITION_KEYS = frozenset(
    {"trigger", "source", "dest", "conditions", "unless", "description", "after", "internal"}
)
_POLICY_KEYS = frozenset({"values", "default", "description"})
# `x-` keys are free for tools and other layers (provider hints, UI labels); the engine keeps
# them in `Spec.state_info` / `Transition.extra` / `Policy.extra` and otherwise ignores them.
_EXTENSION_PREFIX = "x-"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# `transitions` binds these names on the model; a trigger with one of them would shadow it.
_RESERVED_TRIGGERS = frozenset({"state", "trigger", "may_trigger"})
_WILDCARD = "*"

# What a spec may declare. The shipped specs are far below (user_state: 6 states, 15
# transitions, 39 pairs, 9 KiB); the bounds keep a hostile or generated spec from costing
# seconds and hundreds of MiB. A "pair" is one (source state, transition): `*` counts every
# state. The engine builds one `transitions` object per pair and a diagram draws one edge per
# pair, so the pairs bound what every consumer of a spec costs.
_MAX_STATES = 500
_MAX_TRANSITIONS = 5_000
_MAX_PAIRS = 20_000
_MAX_DEPTH = 32
_MAX_VALUES = 100_000


def _check_public(kind: str) -> Any:
    """An attrs validator: every name is public (guards and effects are looked up as
    attributes; ``_x`` or ``__init__`` would reach into the object's private state)."""

    def check(_instance: object, attribute: attrs.Attribute[Any], names: tuple[str, ...]) -> None:
        for name in names:
            if not isinstance(name, str) or name.startswith("_"):
                raise SpecError(
                    f"{kind} {name!r} in {attribute.name} is not public "
                    f"(a name starting with '_' cannot be a {kind})"
                )

    return check


@attrs.frozen
class Transition:
    """One declared transition: ``trigger`` moves any of ``sources`` to ``dest``.

    It is taken when every guard in ``conditions`` is true and every guard in ``unless`` is
    false; its ``after`` effects run once it is taken. ``sources`` has ``"*"`` already
    expanded to every state. ``dest`` is ``None`` for an internal transition, which keeps the
    state it fires in.
    """

    trigger: str
    sources: tuple[str, ...]
    dest: str | None
    # Checked here too, not only by `Spec.load`: a Transition built directly must not give
    # the engine a private or dunder guard or effect name.
    conditions: tuple[str, ...] = attrs.field(default=(), validator=_check_public("guard"))
    unless: tuple[str, ...] = attrs.field(default=(), validator=_check_public("guard"))
    description: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False, repr=False)
    after: tuple[str, ...] = attrs.field(default=(), validator=_check_public("effect"))

    @property
    def guarded(self) -> bool:
        """True when the transition has at least one guard."""
        return bool(self.conditions or self.unless)

    @property
    def internal(self) -> bool:
        """True for an internal transition: no ``dest``, no exit or entry of a state."""
        return self.dest is None


@attrs.frozen
class Policy:
    """A per-state policy declared under ``policies``: each state has one of ``values``.

    ``default`` (if any) is the value of a state that gives none. ``value_descriptions``
    maps the described values to their description.
    """

    name: str
    values: tuple[str, ...]
    default: str | None = None
    description: str | None = None
    value_descriptions: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False, repr=False)


@attrs.frozen
class _StateRules:
    """What a state declares for the engine: effects, ignored triggers, policy values."""

    on_enter: tuple[str, ...] = attrs.field(default=(), validator=_check_public("effect"))
    on_exit: tuple[str, ...] = attrs.field(default=(), validator=_check_public("effect"))
    ignore: tuple[str, ...] = ()
    # Only the values the state gives; a policy's default fills the others.
    policy: Mapping[str, str] = attrs.field(factory=dict, hash=False)


_NO_RULES = _StateRules()


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
    policies: Mapping[str, Policy] = attrs.field(factory=dict, hash=False, repr=False)
    _rules: Mapping[str, _StateRules] = attrs.field(
        factory=dict, hash=False, repr=False, alias="state_rules"
    )

    @classmethod
    def load(cls, source: Spec | str | os.PathLike[str] | Mapping[str, Any]) -> Spec:
        """Load and validate a spec from a YAML file, a shipped spec name, or a mapping.

        ``source`` is a path (``.yaml``/``.yml``), the name of a spec shipped with fsm-auth
        (``"user_state"``), or an already-parsed mapping.

        The vocabulary: top-level ``name``, ``initial``, ``states``, ``transitions``,
        ``description``, ``allow_unreachable``, ``guards`` (``name: {default, description}``)
        and ``policies`` (``name: {values, default, description}``, ``values`` a list or a
        mapping of value to description). A state is a name or a mapping with ``name``,
        ``description``, ``on_enter`` / ``on_exit`` (effect names), ``ignore`` (triggers
        accepted in that state that change nothing) and ``policy`` (``policy: value``). A
        transition has ``trigger``, ``source`` (a state, a list, or ``"*"``), ``dest``,
        ``conditions`` / ``unless`` (guard names), ``after`` (effect names) and
        ``description``; ``internal: true`` instead of ``dest`` keeps the state, with no
        ``on_exit`` / ``on_enter``.

        Every fault raises :class:`SpecError` naming the file (or, for a mapping, the spec)
        and the fault:

        - invalid YAML, a duplicate mapping key, or a document that is not a mapping;
        - an unknown key at the top level, in a state, a transition or a policy (keys
          starting with ``x-`` are free for extensions and kept in ``state_info`` /
          ``Transition.extra`` / ``Policy.extra``);
        - a missing or undeclared ``initial``, duplicate or malformed state names;
        - a transition from or to an undeclared state, a malformed trigger, guard or effect
          name, a guard or effect name starting with ``_`` (only public names), or an
          internal transition that gives a ``dest``;
        - an ambiguous trigger: from one source, an unguarded transition followed by another
          transition for the same trigger (the later one could never be taken);
        - an unreachable state (not reachable from ``initial`` through non-internal
          transitions when every guard may pass). Unreachability is an error because it is
          nearly always a typo; a state that is meant to be entered only from outside can be
          listed in ``allow_unreachable``;
        - a state that ignores a trigger no transition declares, or one it has a transition
          for;
        - a malformed policy (no values, a duplicate value, a default that is not a value), a
          state that sets an undeclared policy or value, or gives no value for a policy that
          has no default;
        - a spec beyond the bounds: a file over 256 KiB, more than 500 states or 5000
          transitions, more than 20000 pairs of a source state and a transition (``"*"``
          counts every state: the engine and the diagrams cost one unit per pair), values
          nested more than 32 levels deep, or more than 100000 values in all.

        Loading takes time linear in the spec: ``"*"`` is one shared tuple of the states, and
        the checks treat it as "every state" without expanding it.

        Guards the engine's context and effects its effects object do not provide are
        reported by ``Engine``, which knows them.
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
            stamp = -1  # _read_spec_bytes reports the missing or unreadable file
        return _load_file(path, stamp)

    @property
    def triggers(self) -> tuple[str, ...]:
        """Every trigger, once each, in the order of first declaration."""
        return tuple(dict.fromkeys(t.trigger for t in self.transitions))

    @property
    def guards(self) -> tuple[str, ...]:
        """Every guard name used by a transition, sorted."""
        return tuple(sorted({g for t in self.transitions for g in (*t.conditions, *t.unless)}))

    @property
    def effects(self) -> tuple[str, ...]:
        """Every effect name used (``on_enter``, ``on_exit``, ``after``), sorted."""
        names = {e for t in self.transitions for e in t.after}
        for rules in self._rules.values():
            names.update(rules.on_enter, rules.on_exit)
        return tuple(sorted(names))

    def state_info(self, state: str) -> Mapping[str, Any]:
        """The extra keys declared for ``state`` (e.g. ``description``); empty if none."""
        if state not in self._state_info and state not in self.states:
            raise KeyError(state)
        # A deep copy: a caller must not change the spec (shared by every load of its file).
        return MappingProxyType(copy.deepcopy(dict(self._state_info.get(state, {}))))

    def on_enter(self, state: str) -> tuple[str, ...]:
        """The effects run, in order, when a transition enters ``state``."""
        return self._state_rules(state).on_enter

    def on_exit(self, state: str) -> tuple[str, ...]:
        """The effects run, in order, when a transition leaves ``state``."""
        return self._state_rules(state).on_exit

    def ignored(self, state: str) -> tuple[str, ...]:
        """The triggers ``state`` accepts and ignores (``fire`` returns False), in order."""
        return self._state_rules(state).ignore

    def policy(self, state: str, name: str) -> str:
        """The value of policy ``name`` in ``state``; ValueError for an unknown one of either."""
        policy = self._policy_named(name)
        value = self._state_rules(state).policy.get(name, policy.default)
        if value is None:
            raise ValueError(f"{self.name}: state {state!r} gives no value for policy {name!r}")
        return value

    def states_where(self, name: str, value: str) -> tuple[str, ...]:
        """The states whose policy ``name`` has ``value``, in declaration order."""
        policy = self._policy_named(name)
        if value not in policy.values:
            raise ValueError(
                f"{self.name}: {value!r} is not a value of policy {name!r} "
                f"(allowed: {', '.join(policy.values)})"
            )
        return tuple(s for s in self.states if self.policy(s, name) == value)

    def _policy_named(self, name: str) -> Policy:
        policy = self.policies.get(name)
        if policy is None:
            declared = ", ".join(map(repr, self.policies)) or "none"
            raise ValueError(f"{self.name}: no policy {name!r} (declared: {declared})")
        return policy

    def _state_rules(self, state: str) -> _StateRules:
        rules = self._rules.get(state)
        if rules is None:
            if state not in self.states:
                raise ValueError(f"{self.name}: undeclared state {state!r}")
            return _NO_RULES
        return rules

    def transitions_from(self, state: str, trigger: str | None = None) -> tuple[Transition, ...]:
        """The transitions leaving ``state`` (for ``trigger`` only, if given), in order."""
        return tuple(
            t
            for t in self.transitions
            if (trigger is None or t.trigger == trigger)
            # `*` sources are the states tuple itself: no scan of every state.
            and (t.sources is self.states or state in t.sources)
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
        if self.policies:
            mapping["policies"] = {name: _policy_mapping(p) for name, p in self.policies.items()}
        mapping["states"] = [
            {"name": s, **self._state_info.get(s, {}), **_rules_mapping(self._state_rules(s))}
            for s in self.states
        ]
        transitions: list[dict[str, Any]] = []
        for t in self.transitions:
            entry: dict[str, Any] = {"trigger": t.trigger, "source": list(t.sources)}
            if t.internal:
                entry["internal"] = True
            else:
                entry["dest"] = t.dest
            if t.conditions:
                entry["conditions"] = list(t.conditions)
            if t.unless:
                entry["unless"] = list(t.unless)
            if t.after:
                entry["after"] = list(t.after)
            if t.description is not None:
                entry["description"] = t.description
            entry.update(t.extra)
            transitions.append(entry)
        mapping["transitions"] = transitions
        # Deep-copied: extension values are the spec's own, and the spec is shared.
        return copy.deepcopy(mapping)


def _policy_mapping(policy: Policy) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if policy.description is not None:
        entry["description"] = policy.description
    if policy.value_descriptions:
        entry["values"] = {v: policy.value_descriptions.get(v) for v in policy.values}
    else:
        entry["values"] = list(policy.values)
    if policy.default is not None:
        entry["default"] = policy.default
    entry.update(policy.extra)
    return entry


def _rules_mapping(rules: _StateRules) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for key in ("on_enter", "on_exit", "ignore"):
        names: tuple[str, ...] = getattr(rules, key)
        if names:
            entry[key] = list(names)
    if rules.policy:
        entry["policy"] = dict(rules.policy)
    return entry


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
    """A safe YAML loader that refuses duplicate mapping keys instead of keeping the last one,
    and documents nested more than ``_MAX_DEPTH`` levels.

    Built on first use: PyYAML is imported only when a spec file is read. libyaml's parser
    (``CSafeLoader``) is used when PyYAML has it: it parses several times faster.
    """
    import yaml

    base: type[Any] = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader

    class UniqueKeyLoader(base):  # type: ignore[misc]
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            # PyYAML's own composer (without libyaml) recurses per level: a deeply nested
            # document would end in RecursionError before the check below could run.
            self.depth += 1
            try:
                if self.depth > _MAX_DEPTH:
                    raise yaml.composer.ComposerError(
                        None,
                        None,
                        f"nested more than {_MAX_DEPTH} levels deep",
                        self.peek_event().start_mark,
                    )
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def get_single_data(self) -> Any:
            node = self.get_single_node()
            if node is None:
                return None
            # Construction recurses per level too: check the composed nodes first.
            _check_nodes(node)
            return self.construct_document(node)

    def construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        seen: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    "a mapping key must be a name, not a list or mapping",
                    key_node.start_mark,
                ) from None
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


def _check_nodes(root: Any) -> None:
    """Refuse a composed YAML document deeper than ``_MAX_DEPTH`` or with more than
    ``_MAX_VALUES`` nodes, counting an aliased node each time it is referenced (so an alias
    "bomb" or a recursive alias ends after at most ``_MAX_VALUES`` steps)."""
    import yaml

    count = 0
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > _MAX_VALUES:
            raise yaml.composer.ComposerError(
                None, None, f"more than {_MAX_VALUES} values", node.start_mark
            )
        if isinstance(node, yaml.ScalarNode):
            continue
        if depth >= _MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {_MAX_DEPTH} levels deep", node.start_mark
            )
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        else:
            stack.extend((child, depth + 1) for child in node.value)
        if len(stack) > _MAX_VALUES:
            raise yaml.composer.ComposerError(
                None, None, f"more than {_MAX_VALUES} values", node.start_mark
            )


@functools.lru_cache(maxsize=64)
def _load_file(path: Path, stamp: int) -> Spec:
    """A spec file, parsed and validated once per version (``stamp``: its mtime)."""
    del stamp  # part of the cache key only: an edited file is read again
    raw = read_spec_bytes(path)
    document = from_compiled_twin(path, raw)
    if document is None:
        document = _parse_yaml(raw, path)
    return _build(document, str(path), path)


def compile_spec(path: Path) -> str:
    """The compiled twin of the spec file ``path`` (JSON text), after validating the spec.

    Raises :class:`SpecError` for a spec that does not load, or whose YAML holds values that
    JSON cannot represent as they are."""
    import hashlib
    import json

    raw = read_spec_bytes(path)
    document = _parse_yaml(raw, path)
    _build(document, str(path), path)
    try:
        text = json.dumps(
            {
                "format": TWIN_FORMAT,
                "source_sha256": hashlib.sha256(raw).hexdigest(),
                "spec": document,
            },
            indent=1,
            allow_nan=False,  # keys keep the YAML's order: the engine and diagrams follow it
        )
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{path}: cannot be compiled to JSON: {exc}") from None
    # Read back, the twin must give the very document (values and order) the YAML gives.
    if json.dumps(json.loads(text)["spec"]) != json.dumps(document):
        raise SpecError(f"{path}: cannot be compiled to JSON: a value would change")
    return text + "\n"


def _parse_yaml(raw: bytes, path: Path) -> Any:
    import yaml

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{path}: the spec is not UTF-8 text") from None
    try:
        return yaml.load(text, Loader=_unique_key_loader())  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        # PyYAML's messages span lines (the problem, then where): one line is easier to read
        # in a log or on a terminal.
        raise SpecError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None


def _names(value: Any, label: str, what: str) -> tuple[str, ...]:
    """A name or a list of names, as a tuple; used for sources, guards and effects."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        raise SpecError(f"{label}: {what} must be a name or a list of names, got {value!r}")
    return tuple(items)


def _public_names(value: Any, label: str, where: str, key: str, kind: str) -> tuple[str, ...]:
    """Guard or effect names: identifiers, and public ones.

    The engine looks them up as attributes of the context or effects object; a name starting
    with ``_`` would reach into its private state.
    """
    names = _names(value, label, f"{where}'s {key}")
    for name in names:
        if not _IDENTIFIER.match(name):
            raise SpecError(f"{label}: {where}: {kind} {name!r} is not an identifier")
        if name.startswith("_"):
            raise SpecError(
                f"{label}: {where}: {kind} {name!r} is not public "
                f"(a name starting with '_' cannot be a {kind})"
            )
    return names


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


def _extensions(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType({k: v for k, v in mapping.items() if k.startswith(_EXTENSION_PREFIX)})


def _check_size(data: Any, label: str) -> None:
    """Refuse a document nested more than ``_MAX_DEPTH`` levels or holding more than
    ``_MAX_VALUES`` values, before anything walks it.

    Values are counted as often as they are referenced, so a YAML alias "bomb" (a list of
    lists of aliases) and a cycle (``&a [*a]``, or a mapping built in Python that holds
    itself) are refused too, after at most ``_MAX_VALUES`` steps.
    """
    count = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > _MAX_VALUES:
            raise SpecError(f"{label}: the spec holds more than {_MAX_VALUES} values")
        if isinstance(value, Mapping):
            children: Iterable[Any] = itertools.chain(value.keys(), value.values())
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth >= _MAX_DEPTH:
            raise SpecError(f"{label}: the spec is nested more than {_MAX_DEPTH} levels deep")
        for child in children:
            stack.append((child, depth + 1))
            if len(stack) > _MAX_VALUES:
                raise SpecError(f"{label}: the spec holds more than {_MAX_VALUES} values")


def _build(data: Any, label: str, path: Path | None) -> Spec:
    if not isinstance(data, Mapping):
        raise SpecError(f"{label}: a spec must be a mapping, got {type(data).__name__}")
    _check_size(data, label)
    _check_keys(data, _TOP_KEYS, label, "the spec")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError(f"{label}: missing or empty 'name'")
    description = _optional_text(data.get("description"), label, "the spec's description")
    states, state_info, raw_rules = _parse_states(data.get("states"), label)
    initial = data.get("initial")
    if initial is None:
        raise SpecError(f"{label}: missing 'initial'")
    if initial not in states:
        raise SpecError(f"{label}: initial state {initial!r} is not a declared state")
    transitions = _parse_transitions(data.get("transitions"), states, label)
    _check_ambiguity(transitions, states, label)
    allow_unreachable = _names(data.get("allow_unreachable", []), label, "'allow_unreachable'")
    for state in allow_unreachable:
        if state not in state_info:
            raise SpecError(f"{label}: allow_unreachable names undeclared state {state!r}")
    _check_reachability(initial, states, transitions, allow_unreachable, label)
    guard_defaults = _parse_guards(data.get("guards", {}), transitions, label)
    policies = _parse_policies(data.get("policies", {}), label)
    leaving = _Leaving(transitions, states)
    values = {name: frozenset(policy.values) for name, policy in policies.items()}
    rules = {
        state: _parse_state_rules(state, raw_rules[state], leaving, policies, values, label)
        for state in states
    }
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
        policies=MappingProxyType(policies),
        state_rules=MappingProxyType(rules),
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


def _parse_policies(data: Any, label: str) -> dict[str, Policy]:
    """The ``policies`` section: ``name: {values, default, description}``.

    ``values`` is a list of values or a mapping of value to its description.
    """
    if not isinstance(data, Mapping):
        raise SpecError(f"{label}: 'policies' must be a mapping of policy name to its declaration")
    policies: dict[str, Policy] = {}
    for name, entry in data.items():
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            raise SpecError(f"{label}: policy name {name!r} is not an identifier")
        where = f"policy {name!r}"
        if not isinstance(entry, Mapping):
            raise SpecError(f"{label}: {where} must be a mapping with 'values'")
        _check_keys(entry, _POLICY_KEYS, label, where)
        raw = entry.get("values")
        described: dict[str, str] = {}
        if isinstance(raw, Mapping):
            values = list(raw)
            for value, text in raw.items():
                if _optional_text(text, label, f"{where}'s description of {value!r}"):
                    described[str(value)] = text
        elif isinstance(raw, list):
            values = raw
        else:
            raise SpecError(
                f"{label}: {where} needs 'values': a list of values or a mapping of value to "
                f"description"
            )
        if not values:
            raise SpecError(f"{label}: {where} has no values")
        for value in values:
            # A YAML `yes`/`no`/`1` is not text: a value must be spelt the way states use it.
            if not isinstance(value, str) or not value or "\n" in value:
                raise SpecError(f"{label}: {where}: value {value!r} must be a one-line text")
        if len(set(values)) != len(values):
            raise SpecError(f"{label}: {where} lists a value twice")
        default = entry.get("default")
        if default is not None and default not in values:
            raise SpecError(
                f"{label}: {where}: default {default!r} is not one of its values "
                f"(allowed: {', '.join(values)})"
            )
        policies[name] = Policy(
            name=name,
            values=tuple(values),
            default=default,
            description=_optional_text(entry.get("description"), label, f"{where}'s description"),
            value_descriptions=MappingProxyType(described),
            extra=_extensions(entry),
        )
    return policies


def _optional_text(value: Any, label: str, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise SpecError(f"{label}: {what} must be text")
    return value


def _parse_states(
    raw: Any, label: str
) -> tuple[tuple[str, ...], dict[str, Mapping[str, Any]], dict[str, Mapping[str, Any]]]:
    """The states, their ``state_info`` and their raw rules (checked once transitions are known)."""
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{label}: 'states' must be a non-empty list")
    if len(raw) > _MAX_STATES:
        raise SpecError(
            f"{label}: {len(raw)} states; a spec may declare at most {_MAX_STATES} states"
        )
    states: list[str] = []
    info: dict[str, Mapping[str, Any]] = {}
    rules: dict[str, Mapping[str, Any]] = {}
    for index, entry in enumerate(raw):
        where = f"state #{index + 1}"
        if isinstance(entry, Mapping):
            _check_keys(entry, _STATE_KEYS, label, where)
            state = entry.get("name")
            extra = {k: v for k, v in entry.items() if k != "name" and k not in _STATE_RULE_KEYS}
            rule = {k: v for k, v in entry.items() if k in _STATE_RULE_KEYS}
            _optional_text(extra.get("description"), label, f"{where}'s description")
        else:
            state, extra, rule = entry, {}, {}
        if not isinstance(state, str) or not state or state == _WILDCARD:
            raise SpecError(f"{label}: {where} has no valid name (got {state!r})")
        if state in info:
            raise SpecError(f"{label}: duplicate state {state!r}")
        states.append(state)
        info[state] = MappingProxyType(extra)
        rules[state] = rule
    return tuple(states), info, rules


class _Leaving:
    """Which transition first leaves a state for a trigger, in time linear in the sources
    listed: a ``*`` transition is recorded once for its trigger, not once per state."""

    def __init__(self, transitions: tuple[Transition, ...], states: tuple[str, ...]) -> None:
        self.triggers = frozenset(t.trigger for t in transitions)
        self._from: dict[tuple[str, str], int] = {}
        self._from_any: dict[str, int] = {}
        for index, t in enumerate(transitions):
            if t.sources is states:
                self._from_any.setdefault(t.trigger, index)
            else:
                for source in t.sources:
                    self._from.setdefault((t.trigger, source), index)

    def first(self, trigger: str, state: str) -> int | None:
        """The index of the first transition for ``trigger`` leaving ``state``, if any."""
        found = [
            i
            for i in (self._from.get((trigger, state)), self._from_any.get(trigger))
            if i is not None
        ]
        return min(found) if found else None


def _parse_state_rules(
    state: str,
    raw: Mapping[str, Any],
    leaving: _Leaving,
    policies: Mapping[str, Policy],
    values: Mapping[str, frozenset[str]],
    label: str,
) -> _StateRules:
    where = f"state {state!r}"
    on_enter = _public_names(raw.get("on_enter", []), label, where, "on_enter", "effect")
    on_exit = _public_names(raw.get("on_exit", []), label, where, "on_exit", "effect")
    ignore = _names(raw.get("ignore", []), label, f"{where}'s ignore")
    if len(set(ignore)) != len(ignore):
        raise SpecError(f"{label}: {where} lists an ignored trigger twice")
    for trigger in ignore:
        if trigger not in leaving.triggers:
            raise SpecError(
                f"{label}: {where} ignores trigger {trigger!r}, which no transition declares"
            )
        index = leaving.first(trigger, state)
        if index is not None:
            raise SpecError(
                f"{label}: {where} ignores trigger {trigger!r}, but transition "
                f"#{index + 1} ({trigger!r}) leaves from it"
            )
    given = raw.get("policy", {})
    if not isinstance(given, Mapping):
        raise SpecError(f"{label}: {where}'s policy must be a mapping of policy name to value")
    declared_policies = ", ".join(map(repr, policies)) or "none"
    for name, value in given.items():
        policy = policies.get(name)
        if policy is None:
            raise SpecError(
                f"{label}: {where} sets undeclared policy {name!r} "
                f"(declared policies: {declared_policies})"
            )
        if not isinstance(value, str) or value not in values[name]:
            raise SpecError(
                f"{label}: {where}: {value!r} is not a value of policy {name!r} "
                f"(allowed: {', '.join(policy.values)})"
            )
    for name, policy in policies.items():
        if name not in given and policy.default is None:
            raise SpecError(
                f"{label}: {where} gives no value for policy {name!r}, which has no default "
                f"(allowed: {', '.join(policy.values)})"
            )
    if not (on_enter or on_exit or ignore or given):
        return _NO_RULES
    return _StateRules(
        on_enter=on_enter,
        on_exit=on_exit,
        ignore=ignore,
        policy=MappingProxyType(dict(given)),
    )


def _parse_transitions(raw: Any, states: tuple[str, ...], label: str) -> tuple[Transition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SpecError(f"{label}: 'transitions' must be a list")
    if len(raw) > _MAX_TRANSITIONS:
        raise SpecError(
            f"{label}: {len(raw)} transitions; a spec may declare at most {_MAX_TRANSITIONS}"
        )
    declared = set(states)
    pairs = 0
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
        internal = entry.get("internal", False)
        if not isinstance(internal, bool):
            raise SpecError(f"{label}: {where}: 'internal' must be true or false")
        if internal and "dest" in entry:
            raise SpecError(
                f"{label}: {where} is internal (it keeps the state) and cannot have a 'dest'"
            )
        for key in ("source",) if internal else ("source", "dest"):
            if key not in entry:
                raise SpecError(f"{label}: {where} is missing '{key}'")
        source = entry["source"]
        if source == _WILDCARD:
            # Every `*` transition shares the one states tuple: nothing is copied per
            # transition, and the checks below recognise it by identity.
            sources = states
        else:
            sources = _names(source, label, f"{where}'s source")
            if len(sources) > len(states):
                raise SpecError(f"{label}: {where} lists more sources than there are states")
            for state in sources:
                if state not in declared:
                    raise SpecError(f"{label}: {where} leaves from undeclared state {state!r}")
            if len(set(sources)) != len(sources):
                raise SpecError(f"{label}: {where} lists a source twice")
        pairs += len(sources)
        if pairs > _MAX_PAIRS:
            raise SpecError(
                f"{label}: {where}: the transitions leave from more than {_MAX_PAIRS} "
                f"(source state, transition) pairs, the most a spec may declare ('*' counts "
                f"every state)"
            )
        dest = None if internal else entry["dest"]
        if not internal and not (isinstance(dest, str) and dest in declared):
            raise SpecError(f"{label}: {where} goes to undeclared state {dest!r}")
        guards = {
            key: _public_names(entry.get(key, []), label, where, key, "guard")
            for key in ("conditions", "unless")
        }
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
                extra=_extensions(entry),
                after=_public_names(entry.get("after", []), label, where, "after", "effect"),
            )
        )
    return tuple(parsed)


def _check_ambiguity(
    transitions: Iterable[Transition], states: tuple[str, ...], label: str
) -> None:
    # Transitions are tried in declaration order and the first whose guards pass wins, so an
    # unguarded one (internal or not) hides every later one for the same trigger and source.
    # A `*` transition (sources *is* `states`) is one entry for its trigger, never expanded.
    unguarded: dict[tuple[str, str], int] = {}  # (trigger, listed source) -> transition
    unguarded_any: dict[str, int] = {}  # trigger -> an unguarded `*` transition
    listed: set[str] = set()  # triggers with an unguarded transition from listed sources

    def ambiguous(trigger: str, source: str, earlier: int, index: int) -> NoReturn:
        raise SpecError(
            f"{label}: ambiguous trigger {trigger!r} from state {source!r}: "
            f"transition #{earlier + 1} has no guard, so "
            f"transition #{index + 1} could never be taken"
        )

    for index, t in enumerate(transitions):
        everywhere = unguarded_any.get(t.trigger)
        if everywhere is not None and t.sources:
            ambiguous(t.trigger, t.sources[0], everywhere, index)
        if t.sources is states:
            if t.trigger in listed:
                # Rare (an error): the first state, in declaration order, that is hidden.
                source = next(s for s in states if (t.trigger, s) in unguarded)
                ambiguous(t.trigger, source, unguarded[t.trigger, source], index)
            if not t.guarded:
                unguarded_any[t.trigger] = index
            continue
        for source in t.sources:
            earlier = unguarded.get((t.trigger, source))
            if earlier is not None:
                ambiguous(t.trigger, source, earlier, index)
        if not t.guarded:
            listed.add(t.trigger)
            for source in t.sources:
                unguarded[t.trigger, source] = index


def _check_reachability(
    initial: str,
    states: tuple[str, ...],
    transitions: tuple[Transition, ...],
    allowed: tuple[str, ...],
    label: str,
) -> None:
    edges: dict[str, set[str]] = {s: set() for s in states}
    # The dest of a `*` transition is reachable from every state, so from `initial`: one
    # entry per transition instead of one edge per state.
    everywhere: set[str] = set()
    for t in transitions:
        if t.dest is None:
            continue  # an internal transition stays where it is
        if t.sources is states:
            everywhere.add(t.dest)
            continue
        for source in t.sources:
            edges[source].add(t.dest)
    seen = {initial, *everywhere}
    frontier = list(seen)
    while frontier:
        for dest in edges[frontier.pop()]:
            if dest not in seen:
                seen.add(dest)
                frontier.append(dest)
    exempt = set(allowed)
    unreachable = [s for s in states if s not in seen and s not in exempt]
    if unreachable:
        raise SpecError(
            f"{label}: state(s) {', '.join(map(repr, unreachable))} cannot be reached from "
            f"{initial!r} (list them in 'allow_unreachable' if that is intended)"
        )
