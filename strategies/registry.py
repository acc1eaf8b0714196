"""One registry idiom for every pluggable kind: strategies, backends, verifiers, policies.

A plug-in registers itself next to its own definition::

    POLICIES = Registry[type[BudgetPolicy]]("budget policy")

    @POLICIES.register("price", summary="climb while the gain pays the price")
    class PricePolicy(BudgetPolicy): ...

so adding one touches one file. Lookups of unknown names raise ``UnknownNameError`` (a
ValueError) that lists what is known and suggests the closest name, because a typo in a
command line should cost one glance, not a read of the source. Entries may be
registered lazily (``register_lazy``) as ``"module:attribute"`` so that heavy engines
(torch, vllm) are imported only by the user who asks for them.

A registry made with ``plugins="some.package"`` imports every module of that package
the first time it is asked anything, so a plug-in placed there registers itself
without a line anywhere else (a new search strategy is one module and its tests).
``alias`` adds another name for an entry (a verifier's Hub id), found by ``get`` but not
listed by ``names``.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(ValueError):
    """A name no plug-in registered; the message lists the known ones."""


class DuplicateNameError(ValueError):
    """Two plug-ins claimed the same name; the second would silently shadow the first."""


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    summary: str
    load: Callable[[], T]


class Registry(Generic[T]):
    """Names to plug-ins of one kind (``kind`` is used in messages: "unknown {kind}")."""

    def __init__(self, kind: str, *, plugins: str | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._loaded: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._modules: dict[str, str] = {}
        self._plugins = plugins
        self._discovered = plugins is None

    def _discover(self) -> None:
        """Import every module of the plug-in package once (they register themselves)."""
        if self._discovered or self._plugins is None:
            return
        self._discovered = True  # first: a module asking this registry must not recurse
        package = importlib.import_module(self._plugins)
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)

    def register(self, name: str, *, summary: str = "") -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name``."""

        def decorate(item: T) -> T:
            self._add(Entry(name, summary, lambda: item), _module_of(item))
            self._loaded[name] = item
            return item

        return decorate

    def add(self, name: str, item: T, *, summary: str = "") -> None:
        """Register ``item`` directly (for objects that are not classes or functions)."""
        self._add(Entry(name, summary, lambda: item), _module_of(item))
        self._loaded[name] = item

    def register_lazy(self, name: str, target: str, *, summary: str = "") -> None:
        """Register ``"package.module:attribute"``, imported on first ``get``."""
        module_name, sep, attribute = target.partition(":")
        if not sep or not attribute:
            raise ValueError(f"lazy {self.kind} {name!r}: target {target!r} is not module:name")

        def load() -> T:
            module = importlib.import_module(module_name)
            item: T = getattr(module, attribute)
            return item

        self._add(Entry(name, summary, load), module_name)

    def alias(self, other: str, name: str) -> None:
        """Make ``other`` another name for the entry ``name``."""
        if other in self._entries or other in self._aliases:
            raise DuplicateNameError(f"{self.kind} {other!r} is registered twice")
        self._aliases[other] = name

    def _add(self, entry: Entry[T], module: str) -> None:
        if entry.name in self._entries or entry.name in self._aliases:
            raise DuplicateNameError(f"{self.kind} {entry.name!r} is registered twice")
        self._entries[entry.name] = entry
        self._modules[entry.name] = module

    def _resolve(self, name: str) -> str:
        self._discover()
        name = self._aliases.get(name, name)
        if name not in self._entries:
            raise UnknownNameError(self.unknown_message(name))
        return name

    def get(self, name: str) -> T:
        """The plug-in registered as ``name``; unknown names raise ``UnknownNameError``."""
        name = self._resolve(name)
        if name not in self._loaded:
            self._loaded[name] = self._entries[name].load()
        return self._loaded[name]

    def unknown_message(self, name: str) -> str:
        self._discover()
        known = ", ".join(self.names()) or "none"
        candidates = [*self._entries, *self._aliases]
        close = difflib.get_close_matches(str(name), candidates, n=1, cutoff=0.6)
        if not close:  # a shortened name ("beam" for "beam_search")
            close = [c for c in candidates if str(name) and c.startswith(str(name))][:1]
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}{hint} (known: {known})"

    def names(self) -> tuple[str, ...]:
        """Registered names; a plug-in registry lists them by module, then in the order
        each module registered them, so the order never depends on what was imported
        first."""
        self._discover()
        if self._plugins is None:
            return tuple(self._entries)
        position = {name: i for i, name in enumerate(self._entries)}
        return tuple(sorted(self._entries, key=lambda n: (self._modules[n], position[n])))

    def aliases(self) -> tuple[str, ...]:
        self._discover()
        return tuple(self._aliases)

    def summary(self, name: str) -> str:
        return self._entries[self._resolve(name)].summary

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


def _module_of(item: object) -> str:
    return str(getattr(item, "__module__", "") or "")
