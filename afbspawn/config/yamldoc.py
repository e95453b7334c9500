"""YAML config text -> document, with the bounds of documents.py checked on the node graph
before anything is built (an alias bomb is refused unexpanded). A module of its own so that
a binder reading JSON configs never imports yaml."""
from __future__ import annotations

from typing import Any

import yaml

from afbspawn.config.documents import MAX_DEPTH, MAX_NODES, DocumentError, JsonObject

_MERGE = "tag:yaml.org,2002:merge"


class _YamlLoader(yaml.SafeLoader):
    pass


def _yaml_mapping(loader: _YamlLoader, node: yaml.MappingNode) -> JsonObject:
    own = [key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE]
    obj = JsonObject(loader.construct_mapping(node, deep=True))
    obj.duplicates = tuple(sorted({key for key in own if own.count(key) > 1}))
    return obj


_YamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _yaml_mapping)


def parse_yaml(text: str) -> Any:
    """The document of YAML `text` (mappings as JsonObject); DocumentError when it is not one."""
    loader = _YamlLoader(text)  # a SafeLoader subclass: no arbitrary objects
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, 0)
        return loader.construct_document(node)
    except (yaml.YAMLError, TypeError) as error:  # TypeError: an unhashable (list) key
        raise DocumentError(f"invalid YAML: {error}".replace("\n", " ")) from None
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int], depth: int) -> int:
    """Values `node` stands for once its aliases are expanded; refuses past the bounds."""
    if depth > MAX_DEPTH:
        raise DocumentError(f"nested deeper than {MAX_DEPTH} levels")
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = MAX_NODES + 1  # a node reached again while being measured: a cycle
    size = 1
    if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
        children = node.value if isinstance(node, yaml.SequenceNode) else [part for pair in node.value for part in pair]
        for child in children:
            size += _expanded_size(child, sizes, depth + 1)
            if size > MAX_NODES:
                raise DocumentError(f"more than {MAX_NODES} values once YAML aliases are expanded "
                                    "(an alias bomb?)")
    sizes[id(node)] = size
    return size
