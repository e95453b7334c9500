"""Loads config files (JSON, YAML, directories, AFB_SPAWN_CONFIG) into compiled Apis.

Every problem of a file is reported at once, with its JSON path, in one ConfigError.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from afbspawn.config import model
from afbspawn.config.collector import Collector
from afbspawn.config.compiler import compile_api
from afbspawn.config.documents import (
    DocumentError,
    bounds_problems,
    duplicate_keys,
    parse,
)
from afbspawn.config.errors import ConfigError, Problem
from afbspawn.config.validation import validate
from afbspawn.config.variables import Expander, ExpansionError

ENV_CONFIG = "AFB_SPAWN_CONFIG"
EXTENSIONS = (".json", ".yaml", ".yml")
MAX_FILE_BYTES = 1024 * 1024  # a config is a few kilobytes; beyond this it is refused unread
ADMIN_API = "spawn-admin"  # afbspawn.binding.reload registers it with --permissions
# the binder's own APIs: a config taking one of their names would pass `check` and fail the start
BINDER_APIS = {"monitor": "the binder's monitoring API", ADMIN_API: "afb-spawn's administration API"}


def load_paths(paths: Sequence[str], *, environ: Mapping[str, str] | None = None,
               privileged: bool | None = None) -> tuple[model.Api, ...]:
    """One Api per config file found in `paths` (files or directories), or in $AFB_SPAWN_CONFIG."""
    environ = dict(os.environ if environ is None else environ)
    privileged = os.geteuid() == 0 if privileged is None else privileged
    problems: list[Problem] = []
    files = _config_files(paths or _from_environment(environ), problems)
    apis: list[model.Api] = []
    declared: dict[str, str] = {}
    for file in files:
        collector = Collector(file)
        api = load_file(file, collector, environ, privileged)
        if api is not None:
            if api.name in declared:
                collector.add(["metadata", "api"], f"API '{api.name}' is already declared by {declared[api.name]}",
                              "each file declares one API: give this one another metadata.api")
            elif api.name in BINDER_APIS:
                collector.add(["metadata", "api"], f"API '{api.name}' is {BINDER_APIS[api.name]}",
                              "give this config another metadata.api")
            declared.setdefault(api.name, file)
        problems.extend(collector.problems)
        if api is not None and not collector.problems:
            apis.append(api)
    if problems:
        raise ConfigError(problems)
    return tuple(apis)


def load_file(file: str, problems: Collector, environ: Mapping[str, str], privileged: bool) -> model.Api | None:
    """The Api of one file, or None when the file cannot be read or is not schema-valid."""
    doc = _read(file, problems)
    if doc is None:
        return None
    faults = validate(doc, problems)
    if "metadata" not in doc or faults.within(("metadata",)):
        return None  # no API identity: nothing else can be named
    return compile_api(doc, problems, environ, privileged, faults)


def _from_environment(environ: Mapping[str, str]) -> list[str]:
    value = environ.get(ENV_CONFIG)
    if not value:
        return []
    try:
        return [Expander(environ).expand(value)]
    except ExpansionError as error:
        raise ConfigError([Problem(ENV_CONFIG, "", str(error), error.hint)]) from None


def _config_files(paths: Sequence[str], problems: list[Problem]) -> list[str]:
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(os.path.join(path, name) for name in os.listdir(path)
                           if name.endswith(EXTENSIONS) and os.path.isfile(os.path.join(path, name)))
            if not found:
                problems.append(Problem(path, "", "no *.json, *.yaml or *.yml config file in this directory"))
            files.extend(found)
        else:
            files.extend(_by_name(path, problems))
    return files


def _by_name(path: str, problems: list[Problem]) -> list[str]:
    """A config named without its extension (`/etc/afb-spawn/vpn`, as the systemd unit's
    instance does) is the one NAME.json, NAME.yaml or NAME.yml beside it."""
    if os.path.exists(path) or path.endswith(EXTENSIONS):
        return [path]
    found = [path + extension for extension in EXTENSIONS if os.path.isfile(path + extension)]
    if not found:
        problems.append(Problem(path, "", "no such config file or directory, nor with .json, .yaml or .yml"))
    elif len(found) > 1:
        problems.append(Problem(path, "", f"several configs have this name: {', '.join(found)}",
                                "keep one, or name the file with its extension"))
    return found[:1]


def _read(file: str, problems: Collector) -> Any:
    if not file.endswith(EXTENSIONS):
        problems.add([], "unsupported file type", "config files end in .json, .yaml or .yml")
        return None
    try:
        with open(file, encoding="utf-8") as stream:
            text = stream.read(MAX_FILE_BYTES + 1)
    except (OSError, UnicodeDecodeError) as error:
        problems.add([], f"cannot read: {getattr(error, 'strerror', None) or error}")
        return None
    if len(text) > MAX_FILE_BYTES:
        problems.add([], f"larger than {MAX_FILE_BYTES} characters", "a config is a few kilobytes: split it")
        return None
    try:
        doc = parse(text, is_json=file.endswith(".json"))
    except DocumentError as error:
        problems.add([], str(error))
        return None
    if not isinstance(doc, dict):
        problems.add([], "the config must be an object (mapping) with a 'metadata' key")
        return None
    out_of_bounds = list(bounds_problems(doc))
    for path, message in out_of_bounds:
        problems.add(list(path), message)
    if out_of_bounds:
        return None
    try:  # a lone surrogate (JSON "\ud800") can never become a path or an argv element
        json.dumps(doc, ensure_ascii=False, default=str).encode()
    except UnicodeEncodeError:
        problems.add([], "the config contains invalid Unicode (an unpaired surrogate escape)")
        return None
    for path in duplicate_keys(doc):
        problems.add(path, f"key '{path[-1]}' is given more than once", "keep one: only the last one would be used")
    return doc
