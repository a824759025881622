"""The base of every config section: unknown keys refused, infinite or NaN numbers refused, and true/false refused
where a number belongs. Its own module, free of the sections, so that edge.config and the sections it imports
(edge.display.config, edge.web.config) share it."""

from __future__ import annotations

import os
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


ON_OFF_WORDS = {True: "on", False: "off"}
ON_OFF = frozenset(ON_OFF_WORDS.values())


def member_types(annotation: Any) -> set[Any]:
    """The types of a field: each member of `A | B | None`, or the one type."""
    return set(get_args(annotation)) if get_origin(annotation) in (Union, types.UnionType) else {annotation}


class Strict(BaseModel):
    """Unknown keys are refused, and so are true/false where a number belongs (pydantic would read them as 1/0:
    `max_frames: true` ran one frame); YAML's on/off are the words on/off where a field offers them."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _paths_as_a_shell_would_read_them(cls, value: Any, info: ValidationInfo) -> Any:
        """A path setting: `~/x` is the home folder's x, as in a shell (YAML and `--out=~/x` leave the tilde, and
        a folder named ~ would be made); an empty one is refused rather than read as the working folder."""
        if not isinstance(value, str) or Path not in member_types(cls.model_fields[info.field_name].annotation):
            return value
        if not value.strip():
            raise ValueError("empty path")
        return os.path.expanduser(value)

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_where_they_belong(cls, value: Any, info: ValidationInfo) -> Any:
        """YAML reads unquoted on/off/yes/no/true/false as booleans: for a choice of words that has on and off
        (`window: off`) they are taken as those words; where a number or another word belongs, they are refused."""
        if not isinstance(value, bool):
            return value
        kinds = member_types(cls.model_fields[info.field_name].annotation)
        if bool in kinds:
            return value
        words = {word for kind in kinds if get_origin(kind) is Literal for word in get_args(kind)}
        if ON_OFF <= words:
            return ON_OFF_WORDS[value]
        if words:
            raise ValueError(f"expected one of {', '.join(sorted(map(str, words)))}, not {str(value).lower()} (YAML "
                             "reads unquoted on/off/yes/no as true/false: quote the word)")
        if kinds & {int, float}:
            raise ValueError(f"expected a number, not {str(value).lower()}")
        return value
