"""String types for request bodies: what a text field may hold, said once for every schema.

PostgreSQL cannot store NUL in text, and no login, code or note a person types holds a
control character, so text fields refuse C0 controls and DEL with 422 before any database
work. Passwords are hashed, never stored, and may hold what the customer typed; only NUL
is refused there (nobody types it, and C libraries cut strings at it). Lone surrogates
(`"\\ud800"` in JSON) are refused by pydantic itself for every `str` (`string_unicode`).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

# ECMA-262 patterns for openapi.yaml; the validators below say the same in Python.
TEXT_PATTERN = r"^[^\x00-\x1F\x7F]*$"
NO_NUL_PATTERN = r"^[^\x00]*$"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_controls(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError("control_character", "Control characters are not allowed")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("control_character", "NUL characters are not allowed")
    return value


# Field(pattern=...) would run pydantic's own regex too; the validator is the check.
Text = Annotated[
    str, AfterValidator(_no_controls), Field(json_schema_extra={"pattern": TEXT_PATTERN})
]
PasswordText = Annotated[
    str, AfterValidator(_no_nul), Field(json_schema_extra={"pattern": NO_NUL_PATTERN})
]
