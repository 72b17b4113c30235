"""Plug-in registries: Audio2Lmk backends and renderers, found by name through lazy import strings.

Nothing is imported until a backend is used (napari's npe2 idea), so listing the registries or importing
the engine never pulls in torch or a model's dependencies. A backend module must itself be cheap to import:
heavy packages are imported inside its methods. Tests register fakes with `Registry.register`.

A registered class provides (see engine.a2l.backend and engine.render.renderer for the two protocols):
  name, title: str; Config: a config dataclass (engine.config); capabilities: a frozen dataclass;
  available(config) -> (ok, reason): whether it can run here, and if not, why.
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any

from engine.config import config_from_json, config_to_json
from engine.errors import BackendError


class Registry:
    def __init__(self, kind: str, entries: dict[str, str]):
        self.kind = kind  # "Audio2Lmk backend" / "renderer", for messages
        self._entries = dict(entries)  # name -> "module:Class"
        self._loaded: dict[str, type] = {}

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def register(self, name: str, target: str | type) -> None:
        """Adds (or replaces) an entry: an import string "module:Class", or the class itself."""
        self._loaded.pop(name, None)
        if isinstance(target, str):
            self._entries[name] = target
        else:
            self._entries[name] = f"{target.__module__}:{target.__qualname__}"
            self._loaded[name] = target

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)
        self._loaded.pop(name, None)

    def get(self, name: str) -> type:
        """The backend class (its module imported now); BackendError for an unknown name or a broken entry."""
        if name not in self._entries:
            raise BackendError(f"unknown {self.kind} {name!r}; known: {', '.join(self._entries)}")
        if name not in self._loaded:
            module, _, attr = self._entries[name].partition(":")
            try:
                self._loaded[name] = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise BackendError(f"the {self.kind} {name!r} cannot be loaded: {exc}") from None
        return self._loaded[name]

    def availability(self, name: str, config: Any = None) -> tuple[bool, str]:
        try:
            cls = self.get(name)
        except BackendError as exc:
            return False, str(exc)
        return cls.available(config if config is not None else cls.Config())

    def require(self, name: str, config: Any = None) -> type:
        """The backend class, or BackendError saying why it cannot run here."""
        ok, reason = self.availability(name, config)
        if not ok:
            raise BackendError(f"the {self.kind} {name!r} cannot run here: {reason}")
        return self.get(name)


A2L_BACKENDS = Registry("Audio2Lmk backend", {"embedded": "engine.a2l.embedded:EmbeddedBackend",
                                               "performance": "engine.a2l.performance:PerformanceBackend",
                                               "aniportrait": "engine.a2l.aniportrait:AniPortraitA2L"})
RENDERERS = Registry("renderer", {"warp": "engine.render.warp:WarpBackend",
                                  "aniportrait": "engine.render.aniportrait:AniPortraitRenderer"})


@dataclass(frozen=True)
class Choice:
    """A backend picked by name with its config (what a project stores for its Audio2Lmk and renderer)."""

    name: str
    config: Any

    def to_json(self) -> dict:
        return {"name": self.name, "config": config_to_json(self.config)}

    def replace(self, **changes) -> "Choice":
        return Choice(self.name, dataclasses.replace(self.config, **changes))


def default_choice(registry: Registry, name: str | None = None) -> Choice:
    name = name or registry.names()[0]
    return Choice(name, registry.get(name).Config())


def choice_from_json(registry: Registry, data: Any) -> Choice:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise BackendError(f"a {registry.kind} entry must be an object with a name, got {data!r}")
    cls = registry.get(data["name"])
    return Choice(data["name"], config_from_json(cls.Config, data.get("config", {}), f"{registry.kind} {data['name']!r}"))
