"""Loading the Cognito configuration: ``awsconfiguration.json``, ``amplifyconfiguration.json``
and Gen 2 ``amplify_outputs.json``, detected from content.

Every fault raises :class:`~fsm_auth.errors.ConfigError` naming the file (or ``<mapping>``) and
the key path, e.g. ``CognitoUserPool.Default.AppClientId``. The client secret never appears in
a message or a ``repr``.

Provider plugins: the built-in entry points serve each role (``user_pool``, ``federated``,
``guest``). A config may name other entry points for some roles, in ``Auth.Default.Providers``
(``awsconfiguration.json`` / ``amplifyconfiguration.json``) or ``auth.providers`` (Gen 2)::

    "Auth": {"Default": {"Providers": {"federated": "my_federated_plugin"}}}

Roles not named keep their default.

Only the standard library and ``attrs`` are imported here, so ``import fsm_auth`` stays cheap.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NoReturn

import attrs

from fsm_auth.errors import ConfigError

__all__ = [
    "AUTHENTICATION_FLOW_TYPES",
    "DEFAULT_PROVIDERS",
    "AuthConfig",
    "IdentityPoolConfig",
    "UserPoolConfig",
    "load_config",
]

AUTHENTICATION_FLOW_TYPES: tuple[str, ...] = (
    "USER_SRP_AUTH",
    "USER_PASSWORD_AUTH",
    "CUSTOM_AUTH",
    "CUSTOM_WITH_SRP",
    "USER_AUTH",
)
"""The sign-in flows accepted in ``authenticationFlowType``; the first is the default."""

DEFAULT_PROVIDERS: Mapping[str, str] = MappingProxyType(
    {"user_pool": "userpool", "federated": "federated", "guest": "guest", "hosted_ui": "hostedui"}
)
"""Role → provider entry-point name (group ``fsm_auth.providers``) when the config names none."""

_log = logging.getLogger("fsm_auth.config")

_FORMATS = (
    "awsconfiguration.json (CognitoUserPool / CredentialsProvider sections), "
    "amplifyconfiguration.json (auth.plugins.awsCognitoAuthPlugin), "
    "Gen 2 amplify_outputs.json (auth.user_pool_id, auth.aws_region, ...)"
)
# Light shape checks: enough to catch a swapped or truncated value, not a full grammar. Each
# matches the whole string: anchored by match() at the start and by \Z at the very end (`$`
# also matches before a final newline: a pool id ending in one would pass and fail every
# sign-in with a misleading issuer error).
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+\Z")
_USER_POOL_ID = re.compile(r"(?P<region>[a-z0-9-]+)_[0-9A-Za-z]+\Z")
_IDENTITY_POOL_ID = re.compile(r"(?P<region>[a-z0-9-]+):[0-9a-fA-F-]+\Z")
# Cognito's ClientIdType: [\w+]+, at most 128 characters.
_APP_CLIENT_ID = re.compile(r"[\w+]{1,128}\Z", re.ASCII)
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?\Z")


# Bounds on a configuration document. Real ones are a few levels deep and a few KiB; the bounds
# keep a hostile file from ending in RecursionError, ValueError or a read without end.
_MAX_DEPTH = 32
_MAX_BYTES = 16 * 1024 * 1024
# CPython's default int-string limit (sys.get_int_max_str_digits), applied whatever the
# interpreter's setting: longer numbers take quadratic time to convert.
_MAX_DIGITS = 4300


def _secret_repr(value: str | None) -> str:
    return "None" if value is None else "'***'"


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if value is None else MappingProxyType(dict(value))


def _providers(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class UserPoolConfig:
    """A Cognito user pool and its app client. ``repr`` hides the client secret."""

    pool_id: str
    app_client_id: str
    app_client_secret: str | None = attrs.field(default=None, repr=_secret_repr)
    region: str = ""
    endpoint: str | None = None

    @property
    def issuer(self) -> str:
        """The AWS ``iss`` of this pool's tokens (also the identity pool's ``Logins`` key)."""
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @property
    def issuers(self) -> tuple[str, ...]:
        """Every ``iss`` accepted for this pool's tokens: the AWS form and, with an endpoint
        configured, also ``<endpoint>/<pool id>``, what local Cognitos (cognito-local,
        LocalStack) issue; the keys come from that same endpoint, so it vouches for both."""
        if self.endpoint is None:
            return (self.issuer,)
        return (self.issuer, f"{self.endpoint.rstrip('/')}/{self.pool_id}")


@attrs.frozen
class IdentityPoolConfig:
    """A Cognito identity pool. ``unauthenticated_identities_enabled`` is ``None`` if unknown."""

    pool_id: str
    region: str
    endpoint: str | None = None
    unauthenticated_identities_enabled: bool | None = None


@attrs.frozen
class AuthConfig:
    """The whole configuration: pools, sign-in flow, OAuth settings and provider plugins."""

    user_pool: UserPoolConfig | None = None
    identity_pool: IdentityPoolConfig | None = None
    authentication_flow_type: str = AUTHENTICATION_FLOW_TYPES[0]
    oauth: Mapping[str, Any] | None = attrs.field(
        default=None, converter=_frozen_mapping, hash=False
    )
    source: str | None = None
    providers: Mapping[str, str] = attrs.field(
        default=DEFAULT_PROVIDERS, converter=_providers, hash=False
    )

    @property
    def config_key(self) -> str:
        """A stable id of the pools, client and endpoints; a stored session made under another
        key is stale. It contains no secret (the client secret is not part of it)."""
        import hashlib
        import json

        up, ip = self.user_pool, self.identity_pool
        parts = [
            [up.region, up.pool_id, up.app_client_id, up.endpoint] if up else None,
            [ip.region, ip.pool_id, ip.endpoint] if ip else None,
        ]
        digest = hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode())
        return digest.hexdigest()[:32]

    def with_endpoint(self, url: str, *, allow_insecure_endpoint: bool = False) -> AuthConfig:
        """Return a copy with every Cognito endpoint overridden by ``url`` (URL or bare host).

        The same checks as an ``Endpoint`` in a file apply (see :func:`load_config`), with the
        same ``allow_insecure_endpoint`` opt-in.
        """
        endpoint = _normalize_endpoint(
            url, "<endpoint_url>", "endpoint_url", allow_insecure=allow_insecure_endpoint
        )
        return attrs.evolve(
            self,
            user_pool=attrs.evolve(self.user_pool, endpoint=endpoint) if self.user_pool else None,
            identity_pool=(
                attrs.evolve(self.identity_pool, endpoint=endpoint) if self.identity_pool else None
            ),
        )


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    endpoint_url: str | None = None,
    allow_insecure_endpoint: bool = False,
) -> AuthConfig:
    """Load a configuration from a JSON file path or an already-parsed mapping.

    ``endpoint_url`` overrides every endpoint the config names. An endpoint (``Endpoint`` in
    the file, or ``endpoint_url``) is an ``https://`` URL or a bare host (meaning https); one
    with credentials in it (``http://user:password@host``) is refused, and so is a plain
    ``http://`` URL to a host that is not loopback (``localhost``, ``127.0.0.0/8``, ``::1``:
    a local emulator), because tokens and passwords would cross the network unencrypted,
    unless ``allow_insecure_endpoint=True`` accepts it; a warning is then logged once per
    endpoint.

    A document nested more than 32 levels deep, a file over 16 MiB, or a number of more than
    4300 digits is refused. Raises ``ConfigError``.
    """
    if isinstance(source, Mapping):
        name, document = "<mapping>", source
    elif isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        document = _read_json(name)
    else:
        raise ConfigError(f"cannot load a configuration from a {type(source).__name__}")
    _check_depth(name, document)
    reader = _Reader(
        name,
        endpoint_override=endpoint_url is not None,
        allow_insecure_endpoint=allow_insecure_endpoint,
    )
    config = _parse(reader, document)
    if endpoint_url is None:
        return config
    return config.with_endpoint(endpoint_url, allow_insecure_endpoint=allow_insecure_endpoint)


def _read_json(name: str) -> Any:
    import json

    try:
        with open(name, encoding="utf-8") as stream:
            # One character more than the bound: enough to know the file is too large.
            text = stream.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: the file is not UTF-8 text") from None
    if len(text) > _MAX_BYTES:
        raise ConfigError(f"{name}: the file is larger than {_MAX_BYTES // 2**20} MiB")

    def parse_int(digits: str) -> int:
        # Without this, int() raises a bare ValueError (Python's int-string limit).
        if len(digits.lstrip("-")) > _MAX_DIGITS:
            raise ConfigError(
                f"{name}: malformed JSON: a number of {len(digits.lstrip('-'))} digits "
                f"(at most {_MAX_DIGITS})"
            )
        return int(digits)

    try:
        return json.loads(text, parse_int=parse_int)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{name}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        # The C decoder recurses per level and stops at the interpreter's recursion limit.
        raise ConfigError(
            f"{name}: malformed JSON: nested more than {_MAX_DEPTH} levels deep"
        ) from None


def _check_depth(source: str, document: Any) -> None:
    """Refuse a document nested more than ``_MAX_DEPTH`` levels (or with a cycle, for a
    mapping built in Python), before anything recurses into it."""
    stack: list[tuple[Any, int, str]] = [(document, 0, "")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, Mapping):
            children: Any = ((str(k), v) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            children = ((f"[{i}]", v) for i, v in enumerate(value))
        else:
            continue
        if depth >= _MAX_DEPTH:
            where = f"{path}: " if path else ""
            raise ConfigError(f"{source}: {where}nested more than {_MAX_DEPTH} levels deep")
        for key, child in children:
            # The path names the first levels only: enough to find the place in the file.
            child_path = path if depth >= 4 else (path + key if key[0] == "[" else _join(path, key))
            stack.append((child, depth + 1, child_path))


@attrs.frozen
class _Reader:
    """Typed access to a JSON document whose errors name the file and the key path."""

    source: str
    # ``load_config(..., allow_insecure_endpoint=True)``: plain http to a host that is not
    # loopback is accepted (with a warning) instead of refused.
    allow_insecure_endpoint: bool = attrs.field(default=False, kw_only=True)
    # An endpoint given outside the document (``endpoint_url=``): pool ids then need not
    # start with the configured region, as with an ``Endpoint`` in the document.
    endpoint_override: bool = False

    def fail(self, path: str, problem: str) -> NoReturn:
        where = f"{self.source}: {path}: " if path else f"{self.source}: "
        raise ConfigError(where + problem)

    def endpoint(self, endpoint: str | None, path: str) -> str | None:
        """The section's ``Endpoint``, checked and normalized (see :func:`_normalize_endpoint`)."""
        return _normalize_endpoint(
            endpoint,
            self.source,
            _join(path, "Endpoint"),
            allow_insecure=self.allow_insecure_endpoint,
            replaced=self.endpoint_override,
        )

    def section(self, obj: Mapping[str, Any], path: str, key: str) -> Mapping[str, Any]:
        value = self.get(obj, path, key, Mapping, "an object")
        assert value is not None
        return value  # type: ignore[no-any-return]

    def text(self, obj: Mapping[str, Any], path: str, key: str) -> str:
        value = self.get(obj, path, key, str, "a string")
        if not value.strip():
            self.fail(_join(path, key), "must not be empty")
        return value  # type: ignore[no-any-return]

    def optional_text(self, obj: Mapping[str, Any], path: str, key: str) -> str | None:
        value = self.get(obj, path, key, str, "a string", optional=True)
        return value or None

    def get(
        self,
        obj: Mapping[str, Any],
        path: str,
        key: str,
        kind: type | tuple[type, ...],
        kind_name: str,
        *,
        optional: bool = False,
    ) -> Any:
        where = _join(path, key)
        if key not in obj or (optional and obj[key] is None):
            if optional:
                return None
            self.fail(where, "missing")
        value = obj[key]
        # bool is an int in Python; JSON true is never a valid number or string here.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            self.fail(where, f"must be {kind_name}, not {_json_type(value)}")
        return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _parse(reader: _Reader, document: Any) -> AuthConfig:
    if not isinstance(document, Mapping):
        reader.fail("", f"the top level must be a JSON object, not {_json_type(document)}")
    auth = document.get("auth")
    if isinstance(auth, Mapping) and "plugins" in auth:
        plugins = reader.section(auth, "auth", "plugins")
        path = "auth.plugins.awsCognitoAuthPlugin"
        plugin = reader.section(plugins, "auth.plugins", "awsCognitoAuthPlugin")
        return _parse_mobile(reader, plugin, path)
    if isinstance(auth, Mapping) and any(
        k in auth for k in ("user_pool_id", "identity_pool_id", "aws_region")
    ):
        return _parse_gen2(reader, auth)
    if any(k in document for k in ("CognitoUserPool", "CredentialsProvider")):
        return _parse_mobile(reader, document, "")
    reader.fail("", f"unknown configuration format; accepted: {_FORMATS}")


def _parse_mobile(reader: _Reader, root: Mapping[str, Any], base: str) -> AuthConfig:
    """``awsconfiguration.json``, alone or inside ``amplifyconfiguration.json``."""
    user_pool = identity_pool = None
    if root.get("CognitoUserPool") is not None:
        path = _join(base, "CognitoUserPool")
        section = reader.section(reader.section(root, base, "CognitoUserPool"), path, "Default")
        path = _join(path, "Default")
        user_pool = _user_pool(
            reader,
            path,
            pool_id=reader.text(section, path, "PoolId"),
            client_id=reader.text(section, path, "AppClientId"),
            secret=reader.optional_text(section, path, "AppClientSecret"),
            region=reader.text(section, path, "Region"),
            endpoint=reader.optional_text(section, path, "Endpoint"),
        )
    if root.get("CredentialsProvider") is not None:
        path = _join(base, "CredentialsProvider")
        section = reader.section(root, base, "CredentialsProvider")
        section = reader.section(section, path, "CognitoIdentity")
        path = _join(path, "CognitoIdentity")
        section = reader.section(section, path, "Default")
        path = _join(path, "Default")
        identity_pool = _identity_pool(
            reader,
            path,
            pool_id=reader.text(section, path, "PoolId"),
            region=reader.text(section, path, "Region"),
            endpoint=reader.optional_text(section, path, "Endpoint"),
            guest=None,
        )
    flow, oauth = AUTHENTICATION_FLOW_TYPES[0], None
    providers: Mapping[str, str] = {}
    if root.get("Auth") is not None:
        path = _join(base, "Auth")
        section = reader.section(reader.section(root, base, "Auth"), path, "Default")
        path = _join(path, "Default")
        flow = _flow_type(reader, section, path, "authenticationFlowType")
        oauth = reader.get(section, path, "OAuth", Mapping, "an object", optional=True)
        providers = _provider_overrides(reader, section, path, "Providers")
    return _assemble(reader, user_pool, identity_pool, flow, oauth, providers)


def _parse_gen2(reader: _Reader, auth: Mapping[str, Any]) -> AuthConfig:
    """Gen 2 ``amplify_outputs.json``: one region for both pools, no endpoint."""
    path = "auth"
    region = reader.text(auth, path, "aws_region")
    user_pool = _user_pool(
        reader,
        path,
        pool_id=reader.text(auth, path, "user_pool_id"),
        client_id=reader.text(auth, path, "user_pool_client_id"),
        secret=None,
        region=region,
        endpoint=None,
        region_key="aws_region",
        id_key="user_pool_id",
        client_key="user_pool_client_id",
    )
    identity_pool = None
    identity_id = reader.optional_text(auth, path, "identity_pool_id")
    if identity_id is not None:
        guest = reader.get(
            auth, path, "unauthenticated_identities_enabled", bool, "a boolean", optional=True
        )
        identity_pool = _identity_pool(
            reader,
            path,
            pool_id=identity_id,
            region=region,
            endpoint=None,
            guest=guest,
            region_key="aws_region",
            id_key="identity_pool_id",
        )
    flow = _flow_type(reader, auth, path, "authentication_flow_type")
    oauth = reader.get(auth, path, "oauth", Mapping, "an object", optional=True)
    providers = _provider_overrides(reader, auth, path, "providers")
    return _assemble(reader, user_pool, identity_pool, flow, oauth, providers)


def _assemble(
    reader: _Reader,
    user_pool: UserPoolConfig | None,
    identity_pool: IdentityPoolConfig | None,
    flow: str,
    oauth: Mapping[str, Any] | None,
    providers: Mapping[str, str],
) -> AuthConfig:
    if user_pool is None and identity_pool is None:
        reader.fail(
            "",
            "neither a user pool (CognitoUserPool.Default) nor an identity pool "
            "(CredentialsProvider.CognitoIdentity.Default) is configured",
        )
    return AuthConfig(
        user_pool=user_pool,
        identity_pool=identity_pool,
        authentication_flow_type=flow,
        oauth=oauth,
        source=reader.source,
        providers={**DEFAULT_PROVIDERS, **providers},
    )


def _user_pool(
    reader: _Reader,
    path: str,
    *,
    pool_id: str,
    client_id: str,
    secret: str | None,
    region: str,
    endpoint: str | None,
    region_key: str = "Region",
    id_key: str = "PoolId",
    client_key: str = "AppClientId",
) -> UserPoolConfig:
    _check_region(reader, path, region_key, region)
    match = _USER_POOL_ID.match(pool_id)
    if match is None:
        reader.fail(
            _join(path, id_key),
            "not a user pool id (expected region_id, e.g. us-east-1_AbC123)",
        )
    if endpoint is None and not reader.endpoint_override:
        _check_same_region(reader, path, id_key, region_key, match["region"], region)
    if _APP_CLIENT_ID.match(client_id) is None:
        reader.fail(
            _join(path, client_key),
            "not an app client id (letters, digits, '_' and '+', at most 128)",
        )
    return UserPoolConfig(
        pool_id=pool_id,
        app_client_id=client_id,
        app_client_secret=secret,
        region=region,
        endpoint=reader.endpoint(endpoint, path),
    )


def _identity_pool(
    reader: _Reader,
    path: str,
    *,
    pool_id: str,
    region: str,
    endpoint: str | None,
    guest: bool | None,
    region_key: str = "Region",
    id_key: str = "PoolId",
) -> IdentityPoolConfig:
    _check_region(reader, path, region_key, region)
    match = _IDENTITY_POOL_ID.match(pool_id)
    if match is None:
        reader.fail(
            _join(path, id_key),
            "not an identity pool id (expected region:uuid, e.g. us-east-1:0b7a6c1e-...)",
        )
    if endpoint is None and not reader.endpoint_override:
        _check_same_region(reader, path, id_key, region_key, match["region"], region)
    return IdentityPoolConfig(
        pool_id=pool_id,
        region=region,
        endpoint=reader.endpoint(endpoint, path),
        unauthenticated_identities_enabled=guest,
    )


def _check_region(reader: _Reader, path: str, key: str, region: str) -> None:
    if not _REGION.match(region):
        reader.fail(_join(path, key), "not an AWS region (e.g. us-east-1)")


def _check_same_region(
    reader: _Reader, path: str, id_key: str, region_key: str, id_region: str, region: str
) -> None:
    if id_region != region:
        reader.fail(
            _join(path, id_key),
            f"the pool id is in region {id_region!r} but {_join(path, region_key)} is "
            f"{region!r} (ids of a local Cognito, such as local_AbC123, need an Endpoint)",
        )


def _flow_type(reader: _Reader, section: Mapping[str, Any], path: str, key: str) -> str:
    flow = reader.optional_text(section, path, key)
    if flow is None:
        return AUTHENTICATION_FLOW_TYPES[0]
    if flow not in AUTHENTICATION_FLOW_TYPES:
        reader.fail(
            _join(path, key),
            f"not supported; use one of {', '.join(AUTHENTICATION_FLOW_TYPES)}",
        )
    return flow


def _provider_overrides(
    reader: _Reader, section: Mapping[str, Any], path: str, key: str
) -> Mapping[str, str]:
    overrides = reader.get(section, path, key, Mapping, "an object", optional=True)
    if overrides is None:
        return {}
    where = _join(path, key)
    return {role: reader.text(overrides, where, role) for role in overrides}


def _normalize_endpoint(
    endpoint: str | None,
    source: str,
    where: str,
    *,
    allow_insecure: bool = False,
    replaced: bool = False,
) -> str | None:
    """A full ``http(s)://`` URL, or a bare host (``[:port]``) meaning ``https://``.

    Plain http to a host that is not loopback is refused unless ``allow_insecure`` (then
    warned about once), or ignored when the endpoint is ``replaced`` by ``endpoint_url`` and
    never used. No message repeats the value: a refused endpoint may carry a password.
    """
    if endpoint is None:
        return None
    value = endpoint.strip().rstrip("/")
    if "@" in value.split("/", 3)[2 if "://" in value else 0]:
        # user:password@host would end up in error messages, the config's repr and logs.
        raise ConfigError(
            f"{source}: {where}: an endpoint must not carry credentials (user:password@); "
            f"the value is not shown"
        )
    if "://" not in value:
        if not _HOST.match(value):
            raise ConfigError(f"{source}: {where}: neither an http(s) URL nor a host name")
        return f"https://{value}"
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{source}: {where}: not an http(s) URL with a host name")
    if parts.query or parts.fragment:
        raise ConfigError(f"{source}: {where}: an endpoint URL takes no query or fragment")
    if parts.scheme == "http" and not replaced and not _is_loopback(parts.hostname):
        if not allow_insecure:
            raise ConfigError(
                f"{source}: {where}: plain http:// to {parts.hostname!r}, which is not a "
                f"loopback address: passwords and tokens would cross the network unencrypted; "
                f"use https://, or pass allow_insecure_endpoint=True to accept it"
            )
        _warn_insecure(value)
    return value


def _is_loopback(host: str) -> bool:
    """``localhost`` or an address in 127.0.0.0/8 or ``::1`` (IPv4-mapped too); no DNS."""
    import ipaddress

    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name other than localhost: it may resolve anywhere
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


_warned_insecure: set[str] = set()
_warned_lock = threading.Lock()


def _warn_insecure(url: str) -> None:
    """Say once per endpoint (per process) that it is used without TLS, as the caller allowed."""
    with _warned_lock:
        if url in _warned_insecure:
            return
        _warned_insecure.add(url)
    _log.warning(
        "Cognito endpoint %s uses plain http to a host that is not loopback "
        "(allow_insecure_endpoint=True): passwords and tokens cross the network unencrypted",
        url,
    )
