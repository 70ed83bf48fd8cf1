"""What the suite looks up per store follows the class and its bases, wherever each is defined: a subclass that
changes nothing is judged by its parent's rules (declared divergences, the cache reset between examples, the racy
window, the clock). A store that keeps state across instances with no way to clear it cannot be judged at all."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any


class CannotReset(RuntimeError):
    """The store keeps process-wide state that nothing clears between examples: no verdict on it would mean anything.
    Not a Mismatch, so the harness reports it as its own failure (exit 2), never as "differs"."""


def modules_of(store_class: type) -> list[ModuleType]:
    """The modules defining the class and each of its bases, nearest first, each once."""
    found: list[ModuleType] = []
    for cls in store_class.__mro__:
        module = sys.modules.get(cls.__module__)
        if module is not None and module.__name__ != "builtins" and module not in found:
            found.append(module)
    return found


def module_with(store_class: type, attribute: str) -> ModuleType | None:
    """The nearest module along the class's bases that defines `attribute`."""
    return next((module for module in modules_of(store_class) if hasattr(module, attribute)), None)


def looked_up(store_class: type, attribute: str, default: Any) -> Any:
    """`attribute` of the nearest module along the class's bases that defines it."""
    module = module_with(store_class, attribute)
    return default if module is None else getattr(module, attribute)


def _state_across_instances(store_class: type) -> list[str]:
    """Module- and class-level objects that outlive a store: instances of a ...Cache class, or caches by name."""
    held = []
    for module in modules_of(store_class):
        for name, value in vars(module).items():
            if not isinstance(value, type) and "cache" in type(value).__name__.lower():
                held.append(f"{module.__name__}.{name}")
    for cls in store_class.__mro__:
        for name, value in vars(cls).items():
            if "cache" in name.lower() and isinstance(value, dict | list | set):
                held.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    return held


def reset(store_class: type) -> None:
    """Clears every process-wide cache along the class's bases before an example; CannotReset where state is held
    across instances and no module along them offers clear_summary_cache()."""
    clears = [
        module.clear_summary_cache for module in modules_of(store_class) if hasattr(module, "clear_summary_cache")
    ]
    if not clears and (held := _state_across_instances(store_class)):
        raise CannotReset(
            f"{store_class.__module__}.{store_class.__qualname__} keeps state across instances ({', '.join(held)}) "
            "and no module of it or its bases offers clear_summary_cache(): one example's files would carry into the "
            "next, so the suite cannot judge it"
        )
    for clear in clears:
        clear()
