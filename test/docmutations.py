"""Mutations of a config document at one of its places, shared by the fuzzing tests."""
from __future__ import annotations

import copy
from typing import Any


def places(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += places(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += places(value, path + (index,))
    return found


def mutate(doc: Any, mutation: tuple[int, str, Any, str]) -> Any:
    index, kind, value, key = mutation
    doc = copy.deepcopy(dict(doc))
    path = places(doc)[index % len(places(doc))]
    if not path:
        return value if kind == "replace" else doc
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if kind == "replace":
        parent[last] = value
    elif kind == "delete":
        del parent[last]
    elif kind == "add" and isinstance(parent[last], dict):
        parent[last][key] = value
    elif kind == "wrap":
        parent[last] = [parent[last]]
    elif kind == "nest":
        parent[last] = {key: parent[last]}
    return doc
