"""POST /uploads: what a client may say of the file it is about to upload."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from rag_eval.domain.json_types import JSON_NUMBER

MAX_FILENAME_CHARS = 255


class UploadRequest(BaseModel):
    """POST /uploads: optionally the file's name and size (a size over the limit is refused
    before anything is uploaded)."""

    model_config = ConfigDict(extra="forbid")

    filename: str | None = Field(default=None, min_length=1, max_length=MAX_FILENAME_CHARS)
    size_bytes: Annotated[int, Field(ge=1), JSON_NUMBER] | None = None
