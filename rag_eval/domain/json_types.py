"""Numbers as JSON has them, the same in every request model.

Pydantic's lax mode would read the string "1" as the number 1, and `true` as 1; a JSON
client that sends either has a bug worth a 422 naming the field. A whole number written
2048.0 is still an integer, as JSON Schema's `integer` means it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator


def _a_json_number(value: Any) -> Any:
    if isinstance(value, bool | str):
        given = "true or false" if isinstance(value, bool) else "a string"
        raise ValueError(f"must be a JSON number, not {given}")
    return value


# Last in an Annotated, after any Field(ge=..., le=...): the bounds stay in the JSON schema.
JSON_NUMBER = BeforeValidator(_a_json_number)
JsonFloat = Annotated[float, JSON_NUMBER]
