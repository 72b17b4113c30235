"""Settings dataclasses that round-trip through project files and the CLI, one mechanism for all of them.

A config is a dataclass of plain fields (bool, int, float, str, optional of these) with a class attribute
VERSION. to_json writes {"version": N, field: value, ...}; from_json rejects unknown keys, ill-typed values and
a newer version with one clear line each, so a typo in a project file or a plug-in's settings never passes
silently. A config may add `validate(self)` for value ranges (raise ValueError with the reason).
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, TypeVar

from engine.errors import ConfigError

C = TypeVar("C")
_SCALARS = (bool, int, float, str)


def field_types(cls) -> dict[str, tuple[type, bool]]:
    """name -> (scalar type, optional) for every field; other field types are a programming error."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = typing.get_args(hint)
        optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
        base = next(a for a in args if a is not type(None)) if optional else hint
        if base not in _SCALARS:
            raise TypeError(f"{cls.__name__}.{f.name}: config fields must be bool, int, float or str (optional)")
        out[f.name] = (base, optional)
    return out


def _coerce(value: Any, kind: type, optional: bool, where: str) -> Any:
    if value is None and optional:
        return None
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        expected = kind.__name__ + (" or null" if optional else "")
        raise ConfigError(f"{where} must be {expected}, got {value!r}")
    return value


def config_version(cls) -> int:
    return int(getattr(cls, "VERSION", 1))


def config_to_json(config) -> dict:
    return {"version": config_version(type(config)), **dataclasses.asdict(config)}


def config_from_json(cls: type[C], data: Any, what: str | None = None) -> C:
    """Builds `cls` from a dict written by config_to_json (missing keys take their defaults)."""
    what = what or cls.__name__
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be an object of settings, got {type(data).__name__}")
    data = dict(data)
    version = data.pop("version", config_version(cls))
    if not isinstance(version, int) or version < 1:
        raise ConfigError(f"{what} has an invalid version {version!r}")
    if version > config_version(cls):
        raise ConfigError(f"{what} is version {version}, this Talkline reads up to version {config_version(cls)}: "
                          "update Talkline")
    types_ = field_types(cls)
    unknown = sorted(set(data) - set(types_))
    if unknown:
        raise ConfigError(f"{what} has unknown setting(s) {', '.join(map(repr, unknown))}; known: {', '.join(types_)}")
    values = {k: _coerce(v, *types_[k], f"{what} setting {k!r}") for k, v in data.items()}
    config = cls(**values)
    check_config(config, what)
    return config


def check_config(config, what: str | None = None) -> None:
    """Runs the config's own range checks (if any) and reports a failure as a ConfigError."""
    validate = getattr(config, "validate", None)
    if validate is not None:
        try:
            validate()
        except ValueError as exc:
            raise ConfigError(f"{what or type(config).__name__}: {exc}") from None


def parse_setting(cls, name: str, text: str):
    """The value of one field from command-line text (`--set name=value`)."""
    types_ = field_types(cls)
    if name not in types_:
        raise ConfigError(f"unknown setting {name!r}; known: {', '.join(types_)}")
    kind, optional = types_[name]
    if optional and text.lower() in ("none", "null", ""):
        return None
    if kind is bool:
        if text.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"setting {name!r} must be true or false, got {text!r}")
        return text.lower() in ("1", "true", "yes", "on")
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"setting {name!r} must be {kind.__name__}, got {text!r}") from None
    if kind is float and not math.isfinite(value):  # "nan", "inf": what a project file may not hold either
        raise ConfigError(f"setting {name!r} must be a finite number, got {text!r}")
    return value
