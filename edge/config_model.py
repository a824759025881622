"""The base of every config section: unknown keys refused, infinite or NaN numbers refused, and true/false refused
where a number belongs. Its own module, free of the sections, so that edge.config and the sections it imports
(edge.display.config, edge.web.config) share it."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


def _member_types(annotation: Any) -> set[Any]:
    return set(get_args(annotation)) if get_origin(annotation) in (Union, types.UnionType) else {annotation}


class Strict(BaseModel):
    """Unknown keys are refused, and so are true/false where a number belongs (pydantic would read them as 1/0:
    `max_frames: true` ran one frame)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool):
            kinds = _member_types(cls.model_fields[info.field_name].annotation)
            if bool not in kinds and kinds & {int, float}:
                raise ValueError(f"expected a number, not {str(value).lower()}")
        return value
