"""The one loader for every YAML/JSON input (suites, fleets, device profiles, imported JSON).

Strict on purpose: the bytes must be UTF-8 text (a binary or mis-encoded file is an error, not mojibake),
mapping keys must be unique (YAML and JSON both let a later key silently win), the file and the document
after alias expansion are bounded (a 4 KB "billion laughs" file must not exhaust memory), and numbers
must be finite (``.inf``/``NaN`` hang timing loops or poison statistics). Every error is a one-line
:class:`ConfigError` naming the file and, when known, the key path (``jobs[2].params.n``) or the line.
"""

from __future__ import annotations

import json
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from ..files import read_text

M = TypeVar("M", bound=BaseModel)

#: config files are hand-written: a megabyte is far more than any real suite, fleet or profile
MAX_CONFIG_BYTES = 1 << 20
#: values (scalars + containers) after YAML aliases are expanded
MAX_NODES = 200_000


def key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a scalar",
                                                    key_node.start_mark) from None
        if key in out:
            raise _DuplicateKey(key, key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, mark: Any) -> None:
        super().__init__(key)
        self.key, self.mark = key, mark


def parse_yaml(text: str, file: str) -> Any:
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except _DuplicateKey as exc:
        raise ConfigError(f"duplicate key {str(exc.key)!r}", file=file,
                          key=f"line {exc.mark.line + 1}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"malformed YAML: {problem}", file=file, key=where) from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply", file=file) from None
    check_values(data, file)
    return data


def parse_json(text: str, file: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise ConfigError(f"duplicate key {k!r}", file=file)
            out[k] = v
        return out

    def constant(name: str) -> Any:
        raise ConfigError(f"non-finite number {name} is not allowed", file=file)

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"malformed JSON: {exc.msg}", file=file, key=f"line {exc.lineno}") from None
    except RecursionError:
        raise ConfigError("JSON nested too deeply", file=file) from None
    check_values(data, file)
    return data


def check_values(data: Any, file: str, max_nodes: int = MAX_NODES) -> None:
    """Bound the document's size after alias expansion and refuse non-finite numbers (naming the key)."""
    count = 0
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(data, ())]
    while stack:
        value, loc = stack.pop()
        count += 1
        if count > max_nodes:
            raise ConfigError(f"document expands to more than {max_nodes} values (YAML aliases?); "
                              "refusing it",
                              file=file)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"non-finite number {value!r} is not allowed", file=file,
                              key=key_path(loc) or None)
        if isinstance(value, dict):
            stack.extend((v, (*loc, str(k))) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*loc, i)) for i, v in enumerate(value))


def read_yaml(path: Path, max_bytes: int = MAX_CONFIG_BYTES) -> Any:
    return parse_yaml(read_text(path, max_bytes), str(path))


def validation_error(exc: ValidationError, file: str, prefix: tuple[int | str, ...] = ()) -> ConfigError:
    """The first pydantic error as a one-line ConfigError naming file and key."""
    err = exc.errors()[0]
    loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif "input" in err and err["type"] not in ("missing",) and not isinstance(err["input"], (dict, list)):
        shown = repr(err["input"])
        msg = f"{msg} (got {shown[:80]}{'…' if len(shown) > 80 else ''})"
    return ConfigError(msg, file=file, key=key_path(loc) or None)


def _int_field(annotation: Any) -> bool:
    """True for ``int``-valued annotations (PositiveInt, int | None …) but not ``bool`` or ``float``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _int_field(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_int_field(a) for a in typing.get_args(annotation) if a is not type(None))
    return annotation is int


def _bools_for_ints(model: type[BaseModel], data: dict[Any, Any], loc: tuple[int | str, ...]) -> None:
    """pydantic's lax mode reads ``true`` as 1: a YAML boolean where a count or size belongs is a mistake."""
    for name, f in model.model_fields.items():
        _check_bool(f.annotation, data.get(f.alias or name), (*loc, name), model.__name__)


def _check_bool(annotation: Any, value: Any, loc: tuple[int | str, ...], title: str) -> None:
    if isinstance(value, bool) and _int_field(annotation):
        raise ValidationError.from_exception_data(title, [{"type": "int_type", "loc": loc, "input": value}])
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for a in args:
            if a is not type(None):
                _check_bool(a, value, loc, title)
    elif origin in (list, tuple) and args and isinstance(value, list):
        for i, v in enumerate(value):
            _check_bool(args[0], v, (*loc, i), title)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(value, dict):
        _bools_for_ints(annotation, value, loc)


def validate_as(schema: type[M], data: Any, file: str, prefix: tuple[int | str, ...] = ()) -> M:
    """``data`` (parsed YAML) validated as the pydantic ``schema``; errors name ``file`` and the key path
    (after ``prefix``), and a bool never passes for an int."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping, got {type(data).__name__}", file=file,
                          key=key_path(prefix) or None)
    try:
        _bools_for_ints(schema, data, ())
        return schema.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, file, prefix) from None
