"""String types for request bodies: what a text field may hold, said once for every schema.

PostgreSQL cannot store NUL in text, and no login, code or note a person types holds a
control character, so text fields refuse C0 controls and DEL with 422 before any database
work. Passwords are hashed, never stored, and may hold what the customer typed; only NUL
is refused there (nobody types it, and C libraries cut strings at it). Both refuse lone
surrogates (`"\\ud800"` in JSON): they have no UTF-8 form, so neither argon2 nor asyncpg
could take them, and pydantic lets them through an optional `str`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

# ECMA-262 patterns for openapi.yaml; the validators below say the same in Python.
TEXT_PATTERN = r"^[^\x00-\x1F\x7F]*$"
NO_NUL_PATTERN = r"^[^\x00]*$"

# The patterns cannot say "lone surrogate" in ECMA-262 without also refusing emoji.
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_NUL = re.compile("[\x00\ud800-\udfff]")


def _no_controls(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError(
            "control_character", "Control characters and lone surrogates are not allowed"
        )
    return value


def _no_nul(value: str) -> str:
    if _NUL.search(value):
        raise PydanticCustomError("control_character", "NUL and lone surrogates are not allowed")
    return value


# Field(pattern=...) would run pydantic's own regex too; the validator is the check.
Text = Annotated[
    str, AfterValidator(_no_controls), Field(json_schema_extra={"pattern": TEXT_PATTERN})
]
PasswordText = Annotated[
    str, AfterValidator(_no_nul), Field(json_schema_extra={"pattern": NO_NUL_PATTERN})
]
