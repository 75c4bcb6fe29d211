"""A dataset file (JSON Lines or CSV) read one row at a time, whatever its size.

`DatasetReader` takes the file's raw byte lines (an S3 body's `iter_lines(keepends=True)`,
or a file opened "rb") and yields, per row, a `DatasetRow` or the row's `RowError`s; it
never holds more than one row. Problems with the whole file raise `DatasetInvalid`.

Field names are ours (question, answer, contexts, ground_truth, sample_id) or ragas' and
Hugging Face's (user_input, response, retrieved_contexts, reference, id); an explicit
`column_map` comes first. Columns `metadata.<key>` (or a JSONL row's `metadata` object)
give the sample's metadata. Other columns are ignored and listed in `ignored_columns`.
A JSONL row whose `user_input` is a list of messages is a conversation (ragas'
MultiTurnSample, with `reference`, `reference_tool_calls`, `reference_topics`); CSV cannot
carry one, and a row that tries is told to use JSON Lines.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from rag_eval.domain.contexts import MAX_CONTEXT_CHARS_TOTAL
from rag_eval.domain.dataset_columns import (
    Scheme,
    check_header,
    checked_column_map,
    field_for,
    layout,
    metadata_clash,
    metadata_columns,
    misspelt_problems,
    question_hints,
    question_names,
    scheme,
)
from rag_eval.domain.errors import DatasetInvalid
from rag_eval.domain.sample import Sample

if TYPE_CHECKING:
    from _csv import Reader as CsvRecords

DatasetFormat = Literal["jsonl", "csv"]


SUFFIXES: Mapping[str, DatasetFormat] = MappingProxyType(
    {".jsonl": "jsonl", ".ndjson": "jsonl", ".json-lines": "jsonl", ".csv": "csv"}
)


# Room for a sample at its limits written out (a contexts list of 200,000 characters,
# JSON-escaped at up to 6 characters each), while an unclosed quote cannot swallow a
# whole upload into one CSV cell.
MAX_CSV_CELL_CHARS = 8 * MAX_CONTEXT_CHARS_TOTAL
MAX_JSONL_LINE_BYTES = 8 * MAX_CONTEXT_CHARS_TOTAL

# Names the reader keeps (ignored_columns): enough to spot a misnamed column, bounded
# whatever keys the rows of a large upload carry.
MAX_IGNORED_COLUMNS = 50

# A conversation's problem with one message: `user_input[2]` or `user_input[2].content`.
_MESSAGE = re.compile(r"user_input\[\d+\](\.\w+)?")
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bad bytes
_JSON_TYPES = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}


def detect_format(name: str | None, head: bytes) -> DatasetFormat:
    """From the file name's suffix (.jsonl/.ndjson/.json-lines -> jsonl, .csv -> csv), else
    from the first non-blank byte of `head` ('{' -> jsonl, else csv)."""
    lowered = (name or "").lower()
    for suffix, fmt in SUFFIXES.items():
        if lowered.endswith(suffix):
            return fmt
    return "jsonl" if _without_bom(head).lstrip().startswith(b"{") else "csv"


@dataclass(frozen=True)
class RowError:
    """One problem of one row; the row is left out and reading goes on."""

    line: int  # 1-based line of the file where the row starts
    field: str  # the column or key as the file names it; "line" when the row is unreadable
    message: str

    def problem(self) -> dict[str, Any]:
        return {"field": f"line {self.line}: {self.field}", "message": self.message}


@dataclass(frozen=True)
class DatasetRow:
    line: int  # 1-based line of the file where the row starts
    sample: Sample


class DatasetReader:
    """Iterate once: a `DatasetRow` per valid row, `RowError`s per invalid one.

    Raises `DatasetInvalid`: in the constructor for a bad column_map; at the first row for
    a CSV header that clashes or gives no question; at the end for a file with no rows;
    midway for CSV that can't be read past a line (a cell over MAX_CSV_CELL_CHARS).
    JSONL rows may name their fields differently: each is read by its own keys, and a
    JSONL row that clashes or lacks a question is a RowError, not the file's fault.

    After iteration has started: `scheme` (None until the CSV header or first JSONL
    object is read) and `ignored_columns` (names that give no field, each once, in the
    order met, at most MAX_IGNORED_COLUMNS of them).
    """

    def __init__(
        self,
        lines: Iterable[bytes],
        fmt: DatasetFormat,
        column_map: Mapping[str, str] | None = None,
    ) -> None:
        if fmt not in ("jsonl", "csv"):
            raise ValueError(f"unknown dataset format {fmt!r}")
        self._lines = lines
        self._fmt = fmt
        self._column_map = checked_column_map(column_map or {})
        self._started = False
        self.scheme: Scheme | None = None
        self.ignored_columns: list[str] = []

    def __iter__(self) -> Iterator[DatasetRow | RowError]:
        if self._started:
            raise RuntimeError("a DatasetReader reads its lines once")
        self._started = True
        return self._read_csv() if self._fmt == "csv" else self._read_jsonl()

    # --- JSON Lines -------------------------------------------------------------------

    def _read_jsonl(self) -> Iterator[DatasetRow | RowError]:
        seen = blank = 0
        for number, raw in enumerate(self._lines, start=1):
            results = self._jsonl_row(number, _without_bom(raw) if number == 1 else raw)
            if results:
                seen += 1
                yield from results
            else:
                blank += 1
        if not seen:
            what = "only blank lines" if blank else "nothing"
            raise _no_samples(f"it holds {what}", "add one per line")

    def _jsonl_row(self, line: int, raw: bytes) -> list[DatasetRow | RowError]:
        if len(raw) > MAX_JSONL_LINE_BYTES:
            return [_unreadable(line, f"is {len(raw)} bytes; at most {MAX_JSONL_LINE_BYTES}")]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return [_not_utf8(line, f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1}")]
        if not text.strip():
            return []
        try:
            value = json.loads(text.rstrip("\r\n"))  # so that errors are on this line
        except json.JSONDecodeError as exc:
            return [_unreadable(line, f"is not valid JSON ({exc.msg} at column {exc.colno})")]
        except RecursionError:
            return [_unreadable(line, "is nested too deeply to read as JSON")]
        if not isinstance(value, dict):
            kind = _JSON_TYPES.get(type(value), "a number")
            return [_unreadable(line, f"must be a JSON object, not {kind}")]
        if self.scheme is None:
            self.scheme = scheme(value, self._column_map)
        return self._jsonl_sample(line, value)

    def _jsonl_sample(self, line: int, row: dict[str, Any]) -> list[DatasetRow | RowError]:
        self._ignore(layout(row, self._column_map)[1])
        given = {key: value for key, value in row.items() if value is not None}
        names, ignored, clashes = layout(given, self._column_map)
        if clashes:
            return [_clash_error(line, group) for group in clashes]
        values = {field: given[name] for field, name in names.items()}
        if "question" not in values:
            where = next((k for k in row if field_for(k, self._column_map) == "question"), None)
            return [RowError(line, where or "question", self._no_question(ignored))]
        misspelt = misspelt_problems(ignored)
        if misspelt:  # scored without it, the row would lose that field's metrics silently
            return [RowError(line, name, message) for name, message in misspelt]
        labels = metadata_columns(list(given), self._column_map)
        if clash := metadata_clash(list(given), names, labels):
            return [RowError(line, "metadata", clash.replace("has ", "gives ", 1))]
        if labels:
            values["metadata"] = {key: given[name] for key, name in labels.items()}
        return self._sample(line, values, names)

    def _no_question(self, ignored: list[str]) -> str:
        return f"required: give {question_names(self._column_map)}" + question_hints(ignored)

    # --- CSV --------------------------------------------------------------------------

    def _read_csv(self) -> Iterator[DatasetRow | RowError]:
        if csv.field_size_limit() < MAX_CSV_CELL_CHARS:
            csv.field_size_limit(MAX_CSV_CELL_CHARS)
        records = csv.reader(_text_lines(self._lines))
        header = _header(records)
        names, ignored, clashes = layout(header, self._column_map)
        self._ignore(ignored)
        self.scheme = scheme(header, self._column_map)
        check_header(header, names, clashes, self._column_map)
        index = {field: header.index(name) for field, name in names.items()}
        labels = metadata_columns(header, self._column_map)
        if clash := metadata_clash(header, names, labels):
            raise DatasetInvalid([{"field": "dataset", "message": clash}])
        index |= {f"metadata.{key}": header.index(name) for key, name in labels.items()}
        seen = False
        start = records.line_num + 1
        for cells in _records(records):
            line, start = start, records.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # a blank line, or a spreadsheet's row of empty cells
            seen = True
            yield from self._csv_row(line, cells, header, index, names)
        if not seen:
            raise _no_samples("it holds a header only", "add one per row under the header")

    def _csv_row(
        self,
        line: int,
        cells: list[str],
        header: list[str],
        index: dict[str, int],
        names: dict[str, str],
    ) -> list[DatasetRow | RowError]:
        extra = [cell for cell in cells[len(header) :] if cell.strip()]
        if extra:
            message = f"has {len(cells)} cells; the header names {len(header)} columns"
            return [_unreadable(line, message)]
        values = {
            field: cells[i] for field, i in index.items() if i < len(cells) and cells[i].strip()
        }
        undecodable = [field for field, cell in values.items() if _UNDECODABLE.search(cell)]
        if undecodable:
            message = "is not valid UTF-8 (save the file as UTF-8)"
            return [RowError(line, names.get(f, f), message) for f in undecodable]
        if "question" not in values:
            return [RowError(line, names["question"], "required: the cell is empty")]
        if conversational := _conversation_cells(values):
            message = (
                "a conversation (messages, expected tool calls or topics) cannot be given in "
                "CSV: write the file as JSON Lines, user_input a list of messages"
            )
            return [RowError(line, names.get(field, field), message) for field in conversational]
        # `metadata.<key>` cells: the sample's labels (an empty cell: no label of that key).
        labels = {f.removeprefix("metadata."): values.pop(f) for f in list(values) if "." in f}
        given: dict[str, Any] = values | ({"metadata": labels} if labels else {})
        return self._sample(line, given, names)

    # --- both -------------------------------------------------------------------------

    def _sample(
        self, line: int, values: dict[str, Any], names: dict[str, str]
    ) -> list[DatasetRow | RowError]:
        sample_id = values.get("sample_id")
        if isinstance(sample_id, int) and not isinstance(sample_id, bool):
            values["sample_id"] = str(sample_id)  # Hugging Face datasets number their rows
        try:
            return [DatasetRow(line, Sample.model_validate(values))]
        except ValidationError as exc:
            return [_row_error(line, error, names) for error in exc.errors(include_url=False)]

    def _ignore(self, names: list[str]) -> None:
        for name in names:
            if len(self.ignored_columns) >= MAX_IGNORED_COLUMNS:
                return
            if name not in self.ignored_columns:
                self.ignored_columns.append(name)


def _conversation_cells(values: Mapping[str, str]) -> list[str]:
    """The fields of a CSV row that hold a conversation's parts: a JSON list of messages
    in the question cell (else a question), expected tool calls or topics."""
    fields = [f for f in ("reference_tool_calls", "reference_topics") if f in values]
    cell = values["question"].strip()
    if cell.startswith("[") and cell.endswith("]"):
        try:
            messages = json.loads(cell)
        except (ValueError, RecursionError):
            return fields
        if messages and all(isinstance(m, dict) and "type" in m for m in messages):
            return ["question", *fields]
    return fields


def _text_lines(lines: Iterable[bytes]) -> Iterator[str]:
    """The byte lines as text for the csv module, lazily; bad bytes survive as surrogates
    so that only their row fails, not the rest of the file."""
    for number, raw in enumerate(lines, start=1):
        text = (_without_bom(raw) if number == 1 else raw).decode("utf-8", "surrogateescape")
        # Lines given without their endings: a quoted cell spanning lines keeps its breaks.
        yield text if text.endswith(("\n", "\r")) else text + "\n"


def _without_bom(raw: bytes) -> bytes:
    return raw.removeprefix(codecs.BOM_UTF8)


def _records(records: CsvRecords) -> Iterator[list[str]]:
    """CSV records; a cell over the size limit stops the file (the csv module can't
    resynchronise after it: the rest may all be inside an unclosed quote)."""
    while True:
        try:
            yield next(records)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DatasetInvalid(
                [
                    {
                        "field": "dataset",
                        "message": f"can't be read as CSV past line {records.line_num} ({exc}); "
                        f"a cell over {MAX_CSV_CELL_CHARS} characters is often an "
                        "unclosed quote",
                    }
                ]
            ) from exc


def _header(records: CsvRecords) -> list[str]:
    """The first non-blank record, its names printable (bad bytes as U+FFFD)."""
    for cells in _records(records):
        if any(cell.strip() for cell in cells):
            return [_UNDECODABLE.sub("\ufffd", cell.strip()) for cell in cells]
    raise _no_samples("it holds nothing", "add a header and one row per sample under it")


def _clash_error(line: int, group: list[str]) -> RowError:
    return RowError(line, group[0], f"{' and '.join(group)} give the same field; keep one")


def _row_error(line: int, error: Any, names: Mapping[str, str]) -> RowError:
    """A pydantic error, its field named as the file names it (retrieved_contexts[2], not
    contexts[2])."""
    loc = error["loc"]
    field = str(loc[0]) if loc else "line"
    rest = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[1:])
    message = error["msg"].removeprefix("Value error, ")
    where, said = message.split(": ", 1) if ": " in message else ("", message)
    # One problem of one message: the message is the field, as a file's reader looks for it.
    if (
        field == "user_input"
        and not rest
        and _MESSAGE.fullmatch(where)
        and "user_input[" not in said
    ):
        return RowError(line, where, said)
    return RowError(line, names.get(field, field) + rest, message)


def _unreadable(line: int, message: str) -> RowError:
    return RowError(line, "line", message)


def _not_utf8(line: int, where: str) -> RowError:
    return RowError(line, "line", f"is not valid UTF-8 ({where}); save the file as UTF-8")


def _no_samples(what: str, fix: str) -> DatasetInvalid:
    return DatasetInvalid([{"field": "dataset", "message": f"has no samples ({what}); {fix}"}])
