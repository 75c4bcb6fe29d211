"""POST /uploads: what a client may say of the file it is about to upload."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rag_eval.domain.json_types import JSON_NUMBER

MAX_FILENAME_CHARS = 255


class UploadRequest(BaseModel):
    """POST /uploads: optionally the file's name and size (a size over the limit is refused
    before anything is uploaded)."""

    model_config = ConfigDict(extra="forbid")

    filename: str | None = Field(default=None, min_length=1, max_length=MAX_FILENAME_CHARS)
    size_bytes: Annotated[int, Field(ge=1), JSON_NUMBER] | None = None


class DatasetRef(BaseModel):
    """An uploaded file to score (POST /uploads), and how to read it."""

    model_config = ConfigDict(extra="forbid")

    upload_id: str = Field(pattern=r"^[0-9a-f]{24}$")
    format: Literal["jsonl", "csv"] | None = None  # None: from the file's first bytes
    # The file's column -> our field, for names neither we nor ragas use.
    column_map: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=200)],
        Literal["sample_id", "question", "answer", "contexts", "ground_truth", "rubrics"],
    ] = Field(default_factory=dict, max_length=20)
