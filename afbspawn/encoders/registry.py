"""Find the factory an encoder spec names: builtins, config plugins, entry points.

A plain name selects a builtin only, case-insensitively (like C: a string can
never name a plugin encoder). With `plugin`, the encoder comes from:
  1. the config's `plugins` entry of that uid: an importable module exposing
     `ENCODERS` (a list of factories or factory classes);
  2. otherwise the `afbspawn.encoders` entry point group: entry point name =
     encoder name, object = factory or factory class, whose `plugin` is that uid.
Errors carry the C error code names (ENCODER_NOT_FOUND, PLUGIN_NOT_FOUND,
INVALID_ENCODER) so logs read like the C binding's.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from afbspawn.config.model import EncoderSpec, Plugin
from afbspawn.encoders.base import EncoderFactory
from afbspawn.encoders.json import JsonFactory
from afbspawn.encoders.line import LineFactory
from afbspawn.encoders.log import LogFactory
from afbspawn.encoders.raw import RawFactory
from afbspawn.encoders.text import SyncFactory, TextFactory

ENTRY_POINT_GROUP = "afbspawn.encoders"

BUILTINS: dict[str, EncoderFactory] = {
    f.name: f
    for f in (TextFactory(), SyncFactory(), LineFactory(), RawFactory(), JsonFactory(), LogFactory())
}
DEFAULT = "text"


def find_factory(spec: EncoderSpec, plugins: Sequence[Plugin] = ()) -> EncoderFactory:
    """The factory for `spec`; LookupError with a clear message when there is none."""
    name = spec.name.lower()
    if spec.plugin is None:
        try:
            return BUILTINS[name]
        except KeyError:
            raise LookupError(
                f"ENCODER_NOT_FOUND: no builtin encoder {spec.name!r} "
                f"(builtins: {', '.join(BUILTINS)}; plugin encoders need \"plugin\")"
            ) from None
    uid = spec.plugin.lower()
    declared = [p for p in plugins if p.uid.lower() == uid]
    if declared:
        return _from_module(declared[0], name)
    return _from_entry_points(spec.plugin, name)


def _from_module(plugin: Plugin, name: str) -> EncoderFactory:
    try:
        module = importlib.import_module(plugin.module)
    except ImportError as error:
        raise LookupError(
            f"PLUGIN_NOT_FOUND: plugin {plugin.uid!r}: cannot import module "
            f"{plugin.module!r}: {error}"
        ) from error
    candidates = getattr(module, "ENCODERS", None)
    if not isinstance(candidates, (list, tuple)):
        raise LookupError(  # noqa: TRY004 (lookup contract: LookupError for every failure)
            f"INVALID_ENCODER: plugin {plugin.uid!r}: module {plugin.module!r} "
            "has no ENCODERS list"
        )
    for candidate in candidates:
        factory = _as_factory(candidate, f"module {plugin.module!r}")
        if factory.name.lower() == name:
            return factory
    known = ", ".join(_as_factory(c, plugin.module).name for c in candidates)
    raise LookupError(
        f"ENCODER_NOT_FOUND: plugin {plugin.uid!r} has no encoder {name!r} (has: {known})"
    )


def _from_entry_points(plugin: str, name: str) -> EncoderFactory:
    from importlib.metadata import (
        entry_points,  # ~1 MB and a scan of site-packages: only when asked
    )
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name.lower() == name]
    factories = [_as_factory(_load(ep), f"entry point {ep.name!r}") for ep in found]
    for factory in factories:
        if (factory.plugin or "").lower() == plugin.lower():
            return factory
    providers = ", ".join(repr(f.plugin) for f in factories)
    raise LookupError(
        f"PLUGIN_NOT_FOUND: no plugin {plugin!r} providing encoder {name!r} "
        f"(not in the config's plugins; entry point group {ENTRY_POINT_GROUP!r} "
        f"offers it from: {providers or 'none'})"
    )


def _load(entry_point: Any) -> Any:
    try:
        return entry_point.load()
    except Exception as error:  # a broken third-party package must not crash config load
        raise LookupError(
            f"INVALID_ENCODER: entry point {entry_point.name!r} ({entry_point.value}) "
            f"fails to load: {error}"
        ) from error


def _as_factory(candidate: Any, origin: str) -> EncoderFactory:
    """A factory instance from a factory object or a factory class."""
    if isinstance(candidate, type) and issubclass(candidate, EncoderFactory):
        candidate = candidate()
    if not isinstance(candidate, EncoderFactory):
        raise LookupError(  # noqa: TRY004 (lookup contract: LookupError for every failure)
            f"INVALID_ENCODER: {origin} is not an EncoderFactory: {candidate!r}"
        )
    return candidate


def prepare(
    spec: EncoderSpec, plugins: Sequence[Plugin] = ()
) -> tuple[EncoderFactory, Mapping[str, Any]]:
    """Config-load step: the factory and its checked options, once per command.

    LookupError when the encoder cannot be found; ValueError prefixed with the C
    code INVALID_OPTIONS when its options are refused.
    """
    factory = find_factory(spec, plugins)
    try:
        return factory, factory.check(spec.opts)
    except ValueError as error:
        raise ValueError(f"INVALID_OPTIONS: {error}") from error
