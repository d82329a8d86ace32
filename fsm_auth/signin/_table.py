"""A read-only table of one sign-in spec's declarations, by name (challenges, flows)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Generic, TypeVar

__all__ = ["DeclarationTable"]

T = TypeVar("T")


class DeclarationTable(Mapping[str, T], Generic[T]):
    """Declarations of the sign-in spec ``spec_name``, by name, in declaration order."""

    def __init__(self, declarations: Mapping[str, T], *, spec_name: str = "sign_in") -> None:
        self._declarations = MappingProxyType(dict(declarations))
        self.spec_name = spec_name

    def __getitem__(self, name: str) -> T:
        return self._declarations[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._declarations)

    def __len__(self) -> int:
        return len(self._declarations)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec_name!r}, {list(self._declarations)!r})"
