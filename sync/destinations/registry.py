"""Destinations by name, found by convention rather than an if-chain: `destination: <name>` in syncs.yml is
the module `sync.destinations.<name>`, whose `DESTINATION` is a class with `from_env(cfg)` (see base.py for
the protocol). A destination kept outside this package is named `package.module:Class`. This module knows
names only (not the sync configuration), so the configuration can check names with it."""

from __future__ import annotations

import importlib
import re
from typing import Protocol

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class Declared(Protocol):
    """What finding and building a destination reads of a sync's configuration."""
    name: str
    destination: str


def resolve(name: str) -> type | None:
    """The destination class `name` stands for, or None when there is none (unknown name, missing module or
    attribute). Errors raised while importing an existing module propagate: they are bugs, not typos."""
    if _NAME.match(name):
        module_name, attr = f"sync.destinations.{name}", "DESTINATION"
    elif _DOTTED.match(name):
        module_name, _, attr = name.partition(":")
    else:
        return None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise
    return getattr(module, attr, None)


def make_destination(cfg: Declared):
    """The destination of a sync, built from its environment (`from_env`)."""
    cls = resolve(cfg.destination)
    if cls is None:
        raise LookupError(f"unknown destination {cfg.destination!r} in sync {cfg.name}: no module "
                          f"sync/destinations/{cfg.destination}.py with DESTINATION, nor a package.module:Class")
    return cls.from_env(cfg)


def default_on_delete(name: str) -> str:
    """What a destination does by default with a record that left the model (its class's `on_delete`, e.g.
    archive for a CRM); `keep` when it says nothing."""
    cls = resolve(name)
    return getattr(cls, "on_delete", "keep") if cls is not None else "keep"
