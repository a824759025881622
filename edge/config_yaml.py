"""YAML for configuration files: PyYAML's safe loader, except that a key given twice in one mapping is an error.

PyYAML keeps the last of two equal keys without a word, so a `detector:` section written twice (one edited, one
forgotten further down) silently drops the first; a config file is the operator's only say, so it is refused."""

from __future__ import annotations

from typing import Any

import yaml

LINE_BASE = 1  # PyYAML's marks count lines from 0
MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, first_line: int, again_line: int) -> None:
        super().__init__(f"{key}: given twice (lines {first_line} and {again_line}); write each key once")


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that raises DuplicateKey for a key repeated in one mapping (a merge key `<<` may still be
    overridden by the mapping's own keys: they are checked before the merge is applied)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue  # `<<: *anchor`, merged (and overridable) by SafeLoader's own construct_mapping
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + LINE_BASE
            try:
                if key in seen:
                    raise DuplicateKey(key, seen[key], line)
                seen[key] = line
            except TypeError:
                continue  # an unhashable key: SafeLoader's own error says so
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """The document in `text` (yaml.YAMLError if it is not YAML; DuplicateKey for a repeated key)."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - UniqueKeyLoader is a SafeLoader
