"""Config text -> document (JSON or YAML), keeping track of duplicated keys.

Both parsers silently keep the last of two equal keys; a config where a key is
given twice has lost a value, so the loader reports it instead.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import yaml

Path = tuple[str | int, ...]
_MERGE = "tag:yaml.org,2002:merge"


class DocumentError(ValueError):
    """The text is not a JSON/YAML document."""


class _Object(dict):  # type: ignore[type-arg]
    """A parsed mapping that remembers which of its keys were given more than once."""

    duplicates: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    keys = [key for key, _ in pairs]
    obj.duplicates = tuple(sorted({key for key in keys if keys.count(key) > 1}))
    return obj


class _YamlLoader(yaml.SafeLoader):
    pass


def _yaml_mapping(loader: _YamlLoader, node: yaml.MappingNode) -> _Object:
    own = [key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE]
    obj = _Object(loader.construct_mapping(node, deep=True))
    obj.duplicates = tuple(sorted({key for key in own if own.count(key) > 1}))
    return obj


_YamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _yaml_mapping)


def parse(text: str, is_json: bool) -> Any:
    """The document of `text`; raises DocumentError with the position of a syntax error."""
    if is_json:
        try:
            return json.loads(text, object_pairs_hook=_json_object)
        except json.JSONDecodeError as error:
            raise DocumentError(f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    try:
        return yaml.load(text, Loader=_YamlLoader)  # a SafeLoader subclass: no arbitrary objects
    except (yaml.YAMLError, TypeError) as error:  # TypeError: an unhashable (list) key
        raise DocumentError(f"invalid YAML: {error}".replace("\n", " ")) from None


def duplicate_keys(node: Any, path: Path = ()) -> Iterator[Path]:
    """Paths of every key given twice in its mapping, anywhere in the document."""
    if isinstance(node, dict):
        for key in getattr(node, "duplicates", ()):
            yield path + (key,)
        for key, value in node.items():
            yield from duplicate_keys(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from duplicate_keys(value, path + (index,))
