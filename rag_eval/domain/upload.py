"""POST /uploads: what a client may say of the file it is about to upload."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_FILENAME_CHARS = 255


class UploadRequest(BaseModel):
    """POST /uploads: optionally the file's name and size (a size over the limit is refused
    before anything is uploaded)."""

    model_config = ConfigDict(extra="forbid")

    filename: str | None = Field(default=None, min_length=1, max_length=MAX_FILENAME_CHARS)
    size_bytes: int | None = Field(default=None, ge=1)

    @field_validator("size_bytes", mode="before")
    @classmethod
    def _a_json_number(cls, value: Any) -> Any:
        # A number, as JSON Schema's integer means it (2048.0 is one); not "2048" nor true.
        if isinstance(value, bool | str):
            raise ValueError("a whole number of bytes >= 1")
        return value
