"""The machinery of the protocol's typed result records (stdlib only, Python 3.8).

``Record.from_dict`` checks the required keys; keys this side does not know (a newer agent's) are kept in
``rest`` and the keys that were present are remembered, so ``to_dict`` gives back exactly what was read: the
agent writes through it and the wire stays byte-compatible.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, Callable, ClassVar, Dict, FrozenSet, List, Tuple, Type, TypeVar, Union


class ProtocolError(ValueError):
    """A message does not follow this protocol (wrong version, missing or mistyped field)."""


R = TypeVar("R", bound="Record")
Loader = Callable[[Any, str], Any]
Nested = Dict[str, Union[Loader, List[Loader]]]


def _load(loader: Union[Loader, List[Loader], None], value: Any, what: str) -> Any:
    if loader is None or value is None:
        return value
    if isinstance(loader, list):
        if not isinstance(value, list):
            raise ProtocolError(f"{what} must be a list")
        return [loader[0](v, f"{what}[{i}]") for i, v in enumerate(value)]
    return loader(value, what)


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value.to_dict() if hasattr(value, "to_dict") else value


class Record:
    #: keys a line of this protocol version always has
    REQUIRED: ClassVar[Tuple[str, ...]] = ()
    #: field name → loader of its nested record (in a one-element list: a list of them)
    NESTED: ClassVar[Nested] = {}
    rest: Dict[str, Any]
    seen: FrozenSet[str]

    @classmethod
    def from_dict(cls: Type[R], data: Any, what: str = "") -> R:
        what = what or cls.__name__
        if not isinstance(data, dict):
            raise ProtocolError(f"{what} must be a JSON object")
        for key in cls.REQUIRED:
            if data.get(key) is None:
                raise ProtocolError(f"{what} has no {key!r}")
        known = {f.name: f for f in fields(cls) if f.name not in ("rest", "seen")}  # type: ignore[arg-type]
        kw: Dict[str, Any] = {}
        rest: Dict[str, Any] = {}
        for k, v in data.items():
            f = known.get(k)
            if f is None or (v is None and f.default is not None):  # unknown, or null where a value is due
                rest[k] = v
            else:
                kw[k] = _load(cls.NESTED.get(k), v, f"{what}.{k}")
        return cls(rest=rest, seen=frozenset(kw), **kw)  # type: ignore[call-arg]

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            if f.name in ("rest", "seen"):
                continue
            value = getattr(self, f.name)
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            if f.name in self.seen or f.name in self.REQUIRED or value != default:
                out[f.name] = _dump(value)
        out.update(self.rest)
        return dict(sorted(out.items()))  # the wire's order (sort_keys), so stored raw values keep theirs
