"""Dataset files read row by row: what a user who uploads JSON Lines or CSV sees."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag_eval.domain.contexts import split_contexts
from rag_eval.domain.dataset import (
    MAX_CSV_CELL_CHARS,
    MAX_IGNORED_COLUMNS,
    DatasetFormat,
    DatasetReader,
    DatasetRow,
    RowError,
    detect_format,
)
from rag_eval.domain.errors import DatasetInvalid
from rag_eval.domain.sample import MAX_QUESTION_CHARS, Sample

OURS = ("sample_id", "question", "answer", "contexts", "ground_truth")
RAGAS = ("id", "user_input", "response", "retrieved_contexts", "reference")

TOWER = Sample(
    sample_id="tower",
    question="When was the Eiffel Tower completed?",
    answer="In 1889.",
    contexts=["It was completed in 1889.", "It stands in Paris."],
    ground_truth="1889",
)


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def read(
    data: bytes, fmt: DatasetFormat, column_map: Mapping[str, str] | None = None
) -> tuple[list[DatasetRow | RowError], DatasetReader]:
    """Everything the reader yields, fed lines as an S3 body's iter_lines(keepends=True)."""
    reader = DatasetReader(data.splitlines(keepends=True), fmt, column_map)
    return list(reader), reader


def samples_of(data: bytes, fmt: DatasetFormat, **kwargs: Any) -> list[Sample]:
    items, _ = read(data, fmt, **kwargs)
    assert all(isinstance(item, DatasetRow) for item in items), items
    return [item.sample for item in items if isinstance(item, DatasetRow)]


def errors_of(data: bytes, fmt: DatasetFormat) -> list[tuple[int, str, str]]:
    items, _ = read(data, fmt)
    return [(e.line, e.field, e.message) for e in items if isinstance(e, RowError)]


def invalid(data: bytes, fmt: DatasetFormat, **kwargs: Any) -> list[dict[str, Any]]:
    with pytest.raises(DatasetInvalid) as caught:
        read(data, fmt, **kwargs)
    return caught.value.problems


def tower_row(names: tuple[str, ...]) -> dict[str, Any]:
    values = TOWER.model_dump()
    return {name: values[field] for name, field in zip(names, OURS, strict=True)}


# --- the format -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("data.jsonl", b"question\n", "jsonl"),  # the name wins over the bytes
        ("DATA.NDJSON", b"", "jsonl"),
        ("export.json-lines", b"", "jsonl"),
        ("uploads/data.csv", b'{"question": "q"}', "csv"),
        (None, b'\xef\xbb\xbf\n  {"question": "q"}', "jsonl"),
        ("blob", b"user_input,response\n", "csv"),
        (None, b"", "csv"),
    ],
)
def test_the_format_comes_from_the_name_else_from_the_first_bytes(
    name: str | None, head: bytes, expected: str
) -> None:
    assert detect_format(name, head) == expected


# --- the two namings, in both formats ---------------------------------------------------


@pytest.mark.parametrize(("names", "scheme"), [(OURS, "rag_eval"), (RAGAS, "ragas")])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_our_names_and_ragas_names_read_the_same_sample(
    names: tuple[str, ...], scheme: str, fmt: DatasetFormat
) -> None:
    # GIVEN one sample written with our names or with ragas' / Hugging Face's
    row = tower_row(names)
    if fmt == "csv":
        data = csv_bytes(
            [list(names), [*(row[n] for n in names[:3]), json.dumps(row[names[3]]), row[names[4]]]]
        )
    else:
        data = jsonl_bytes([row])

    # WHEN it is read
    items, reader = read(data, fmt)

    # THEN it is the same sample, on the line it starts at, and the naming is known
    assert items == [DatasetRow(line=2 if fmt == "csv" else 1, sample=TOWER)]
    assert reader.scheme == scheme
    assert reader.ignored_columns == []


def test_jsonl_rows_may_each_use_either_naming() -> None:
    data = jsonl_bytes(
        [
            {"user_input": "q1", "response": "a1"},
            {"question": "q2", "answer": "a2"},
            {"question": "q3", "response": "a3", "reference": "r3"},
        ]
    )
    items, reader = read(data, "jsonl")
    assert [(i.line, i.sample.question, i.sample.answer) for i in items] == [
        (1, "q1", "a1"),
        (2, "q2", "a2"),
        (3, "q3", "a3"),
    ]
    assert reader.scheme == "ragas"  # from the first object


def test_a_file_mixing_the_namings_says_so() -> None:
    _, reader = read(csv_bytes([["question", "response"], ["q", "a"]]), "csv")
    assert reader.scheme == "mixed"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_column_map_renames_the_files_own_names_first(fmt: DatasetFormat) -> None:
    # GIVEN columns named neither our way nor ragas', and one of ours meaning something else
    header = ["query", "answer", "gold"]
    values = ["When?", "In 1889.", "1889"]
    column_map = {"query": "question", "answer": "response", "gold": "ground_truth"}
    data = (
        csv_bytes([header, values])
        if fmt == "csv"
        else jsonl_bytes([dict(zip(header, values, strict=True))])
    )

    # WHEN it is read with a map of them
    items, reader = read(data, fmt, column_map)

    # THEN the map decides (a ragas name as the target works too)
    assert [i.sample for i in items] == [
        Sample(question="When?", answer="In 1889.", ground_truth="1889")
    ]
    assert reader.scheme == "mapped"


def test_a_column_map_to_an_unknown_field_names_the_allowed_ones() -> None:
    with pytest.raises(DatasetInvalid) as caught:
        DatasetReader([], "csv", {"query": "questoin"})
    assert caught.value.problems == [
        {
            "field": "dataset.column_map.query",
            "message": "maps to 'questoin', which is not a sample field (did you mean question?)",
            "allowed": [*OURS, "rubrics", "reference_tool_calls", "reference_topics", "metadata"],
        }
    ]


def test_a_column_map_naming_a_column_the_csv_lacks_says_which() -> None:
    problems = invalid(csv_bytes([["question"], ["q"]]), "csv", column_map={"anwser": "answer"})
    assert problems == [
        {
            "field": "dataset.column_map",
            "message": "names column(s) the file does not have: anwser",
            "allowed": ["question"],
        }
    ]


# --- columns that can't be read ---------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            ["question", "user_input"],
            "has columns question and user_input, which both give question; keep one",
        ),
        (["question", "answer", "answer"], "has 2 columns named answer; keep one"),
    ],
)
def test_two_csv_columns_for_one_field_are_refused_naming_both(
    header: list[str], message: str
) -> None:
    problems = invalid(csv_bytes([header, ["x"] * len(header)]), "csv")
    assert problems == [{"field": "dataset", "message": message}]


def test_a_jsonl_row_with_two_keys_for_one_field_is_that_rows_error() -> None:
    data = jsonl_bytes([{"question": "q", "user_input": "q"}, {"question": "q2"}])
    items, _ = read(data, "jsonl")
    assert items[0] == RowError(
        1, "question", "question and user_input give the same field; keep one"
    )
    assert isinstance(items[1], DatasetRow)


def test_a_csv_without_a_question_column_lists_its_columns_and_the_fix() -> None:
    problems = invalid(csv_bytes([["Question", "answer"], ["q", "a"]]), "csv")
    assert problems == [
        {
            "field": "dataset",
            "message": "has no question column (its columns: Question, answer); name one "
            "question or user_input, or map yours with a column map; Question is not a field "
            "(did you mean question?)",
            "allowed": [*OURS, "rubrics", "reference_tool_calls", "reference_topics", "metadata"],
        }
    ]


def test_a_jsonl_row_without_a_question_is_that_rows_error_with_the_likely_key() -> None:
    data = jsonl_bytes([{"questoin": "q", "answer": "a"}, {"answer": "a"}, {"question": "q"}])
    assert errors_of(data, "jsonl") == [
        (
            1,
            "question",
            "required: give question or user_input; questoin is not a field "
            "(did you mean question?)",
        ),
        (2, "question", "required: give question or user_input"),
    ]


# --- rows that can't be read: a RowError each, on its line, and reading goes on -----------


def test_bad_jsonl_rows_are_named_by_line_and_the_rest_is_read() -> None:
    # GIVEN a file with a blank line, then rows broken in each way
    too_long = json.dumps({"user_input": "x" * (MAX_QUESTION_CHARS + 1)})
    data = b"\n".join(
        [
            b'{"question": "q1"}',
            b"",
            b'{"question": "q3", ',
            b'["question"]',
            too_long.encode(),
            b'{"question": "caf\xe9"}',
            b'{"question": "q7", "retrieved_contexts": ["c", 3]}',
            b'{"question": "q8"}',
        ]
    )

    # WHEN it is read
    items, _ = read(data, "jsonl")

    # THEN the good rows are read, each bad one is an error on its own line, named as in the file
    assert [(i.line, i.sample.question) for i in items if isinstance(i, DatasetRow)] == [
        (1, "q1"),
        (8, "q8"),
    ]
    assert [(e.line, e.field, e.message) for e in items if isinstance(e, RowError)] == [
        (
            3,
            "line",
            "is not valid JSON (Expecting property name enclosed in double quotes at column 20)",
        ),
        (4, "line", "must be a JSON object, not an array"),
        (5, "user_input", f"String should have at most {MAX_QUESTION_CHARS} characters"),
        (6, "line", "is not valid UTF-8 (byte 0xe9 at column 18); save the file as UTF-8"),
        (7, "retrieved_contexts[1]", "Input should be a valid string"),
    ]


def test_bad_csv_rows_count_lines_across_quoted_line_breaks() -> None:
    # GIVEN a record whose quoted cell spans three lines, then bad records
    header = b"user_input,response,retrieved_contexts\n"
    spanning = b'q2,"first line\nsecond line\nthird line",c\n'
    too_long = b"x" * (MAX_QUESTION_CHARS + 1) + b",a,c\n"
    not_utf8 = b"q6,caf\xe9,c\n"
    extra = b"q7,a,c,surplus\n"
    empty_question = b",a,c\n"
    good = b"q9,a,c\n"
    data = header + spanning + too_long + not_utf8 + extra + empty_question + good

    # WHEN it is read
    items, _ = read(data, "csv")

    # THEN each row has the line it starts on
    assert [(i.line, i.sample.question) for i in items if isinstance(i, DatasetRow)] == [
        (2, "q2"),
        (9, "q9"),
    ]
    assert items[0] == DatasetRow(
        2, Sample(question="q2", answer="first line\nsecond line\nthird line", contexts=["c"])
    )
    assert [(e.line, e.field, e.message) for e in items if isinstance(e, RowError)] == [
        (5, "user_input", f"String should have at most {MAX_QUESTION_CHARS} characters"),
        (6, "response", "is not valid UTF-8 (save the file as UTF-8)"),
        (7, "line", "has 4 cells; the header names 3 columns"),
        (8, "user_input", "required: the cell is empty"),
    ]


def test_a_row_error_is_a_problem_naming_its_line() -> None:
    error = RowError(line=7, field="user_input", message="required: the cell is empty")
    assert error.problem() == {
        "field": "line 7: user_input",
        "message": "required: the cell is empty",
    }


def test_a_cell_over_the_limit_stops_the_file_at_its_line() -> None:
    # GIVEN an unclosed quote that would take the rest of the file into one cell
    rest = (b"x" * 999 + b"\n") * (MAX_CSV_CELL_CHARS // 1000 + 10)
    data = b'question,answer\nq1,a\nq2,"unclosed\n' + rest

    # WHEN it is read THEN the rows before it are read, and then the file is refused
    reader = iter(DatasetReader(data.splitlines(keepends=True), "csv"))
    assert next(reader) == DatasetRow(2, Sample(question="q1", answer="a"))
    with pytest.raises(DatasetInvalid) as caught:
        next(reader)
    assert caught.value.problems[0]["field"] == "dataset"
    assert caught.value.problems[0]["message"].startswith("can't be read as CSV past line ")
    assert "often an unclosed quote" in caught.value.problems[0]["message"]


# --- files without samples ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (b"", "jsonl", "has no samples (it holds nothing); add one per line"),
        (b"\n  \n", "jsonl", "has no samples (it holds only blank lines); add one per line"),
        (
            b"",
            "csv",
            "has no samples (it holds nothing); add a header and one row per sample under it",
        ),
        (
            b"question,answer\n",
            "csv",
            "has no samples (it holds a header only); add one per row under the header",
        ),
        (
            b"question,answer\n\n,\n",
            "csv",
            "has no samples (it holds a header only); add one per row under the header",
        ),
    ],
    ids=["empty-jsonl", "blank-jsonl", "empty-csv", "header-only", "header-and-blank-rows"],
)
def test_a_file_without_samples_is_refused_saying_what_it_holds(
    data: bytes, fmt: DatasetFormat, message: str
) -> None:
    assert invalid(data, fmt) == [{"field": "dataset", "message": message}]


# --- what real exports carry --------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_byte_order_mark_is_not_part_of_the_first_name(fmt: DatasetFormat) -> None:
    data = b"\xef\xbb\xbf" + (b"question\nq\n" if fmt == "csv" else b'{"question": "q"}\n')
    assert samples_of(data, fmt) == [Sample(question="q")]
    # as from a file opened "rb"
    row = DatasetRow(2 if fmt == "csv" else 1, Sample(question="q"))
    assert list(DatasetReader(io.BytesIO(data), fmt)) == [row]


def test_columns_of_no_field_are_ignored_and_listed_once() -> None:
    # GIVEN a ragas testset export: extra columns on every row
    rows = [
        {
            "user_input": f"q{i}",
            "reference": "r",
            "reference_contexts": ["c"],
            "synthesizer_name": "s",
        }
        for i in range(3)
    ]
    items, reader = read(jsonl_bytes(rows), "jsonl")
    assert [i.sample for i in items] == [
        Sample(question=f"q{i}", ground_truth="r") for i in range(3)
    ]
    assert reader.ignored_columns == ["reference_contexts", "synthesizer_name"]

    _, reader = read(csv_bytes([["question", "", "Unnamed: 0"], ["q", "1", "2"]]), "csv")
    assert reader.ignored_columns == ["", "Unnamed: 0"]


def test_ignored_names_stay_printable_and_few() -> None:
    # GIVEN a Latin-1 header cell, a JSON key that is a lone surrogate, and rows of new keys
    _, reader = read(b"question,Gr\xf6\xdfe\nq,1\n", "csv")
    assert reader.ignored_columns == ["Gr\ufffd\ufffde"]

    _, reader = read(b'{"question": "q", "\\udc80": 1}\n', "jsonl")
    assert reader.ignored_columns == ["\ufffd"]

    many = jsonl_bytes([{"question": "q", f"extra_{i}": i} for i in range(MAX_IGNORED_COLUMNS * 2)])
    _, reader = read(many, "jsonl")
    assert reader.ignored_columns == [f"extra_{i}" for i in range(MAX_IGNORED_COLUMNS)]


def test_empty_cells_and_nulls_are_not_given() -> None:
    csv_rows = samples_of(csv_bytes([list(OURS), ["", "q", "", "", "  "]]), "csv")
    jsonl_rows = samples_of(
        jsonl_bytes([dict.fromkeys(OURS) | {"question": "q", "user_input": None}]), "jsonl"
    )
    assert csv_rows == jsonl_rows == [Sample(question="q")]


def test_numeric_ids_of_hugging_face_datasets_are_read_as_text() -> None:
    assert samples_of(jsonl_bytes([{"id": 17, "user_input": "q"}]), "jsonl") == [
        Sample(sample_id="17", question="q")
    ]


def test_ragas_csv_exports_of_contexts_as_a_python_list_are_read_as_a_list() -> None:
    # GIVEN a CSV as pandas writes a ragas dataset: the list cell is the list's repr
    contexts = ["It's in Paris.", 'It is "the iron lady".']
    data = csv_bytes([["user_input", "retrieved_contexts"], ["Where?", str(contexts)]])
    assert samples_of(data, "csv") == [Sample(question="Where?", contexts=contexts)]


@pytest.mark.parametrize(
    ("text", "contexts"),
    [
        ('["a", "b"]', ["a", "b"]),
        ("['a', \"b's\"]", ["a", "b's"]),
        ("first\n\nsecond", ["first", "second"]),
        ("[1, 2]", ["[1, 2]"]),  # not a list of strings: one context as written
        ("['a', 1]", ["['a', 1]"]),
        ("[__import__('os').getcwd()]", ["[__import__('os').getcwd()]"]),  # never evaluated
        ("[" * 100_000 + "]" * 100_000, ["[" * 100_000 + "]" * 100_000]),
    ],
    ids=["json", "python", "paragraphs", "numbers", "mixed", "code", "deep"],
)
def test_a_contexts_string_is_a_json_or_python_list_of_strings_or_paragraphs(
    text: str, contexts: list[str]
) -> None:
    assert split_contexts(text) == contexts


def test_lines_given_without_their_endings_keep_a_quoted_cells_line_breaks() -> None:
    # iter_lines() without keepends=True drops the endings
    lines = [b"question,answer", b'q,"one', b'two"', b"q2,a2"]
    items = list(DatasetReader(lines, "csv"))
    assert [(i.line, i.sample.answer) for i in items] == [(2, "one\ntwo"), (4, "a2")]


# --- reading is lazy ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_first_rows_of_a_million_lines_read_only_their_own_lines(fmt: DatasetFormat) -> None:
    # GIVEN a million-line source that records how far it was read
    read_up_to = 0

    def lines() -> Iterator[bytes]:
        nonlocal read_up_to
        if fmt == "csv":
            read_up_to = 1
            yield b"question\n"
        for index in range(1_000_000):
            read_up_to += 1
            yield (f"q{index}\n" if fmt == "csv" else f'{{"question": "q{index}"}}\n').encode()

    # WHEN two rows are taken
    rows = list(itertools.islice(DatasetReader(lines(), fmt), 2))
    lines_of_rows = [2, 3] if fmt == "csv" else [1, 2]

    # THEN just their lines were read (and the header)
    assert rows == [DatasetRow(n, Sample(question=f"q{i}")) for i, n in enumerate(lines_of_rows)]
    assert read_up_to == (3 if fmt == "csv" else 2)


def test_a_reader_reads_its_lines_once() -> None:
    reader = DatasetReader([b'{"question": "q"}\n'], "jsonl")
    list(reader)
    with pytest.raises(RuntimeError):
        iter(reader)


# --- any valid samples read back --------------------------------------------------------------

text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40).filter(
    lambda s: s.strip() == s and s != ""
)
samples = st.builds(
    Sample,
    sample_id=st.none() | text,
    question=text,
    answer=st.none() | text,
    contexts=st.none() | st.lists(text, min_size=1, max_size=4),
    ground_truth=st.none() | text,
)


# Fields the hypothesis samples leave out: a rubric, labels, and a conversation's.
_CONVERSATION_FIELDS = {
    "rubrics",
    "metadata",
    "user_input",
    "reference_tool_calls",
    "reference_topics",
}


def written(rows: list[Sample], fmt: DatasetFormat, names: tuple[str, ...]) -> bytes:
    dicts = [
        dict(zip(names, row.model_dump(exclude=_CONVERSATION_FIELDS).values(), strict=True))
        for row in rows
    ]
    if fmt == "jsonl":
        return jsonl_bytes([{k: v for k, v in d.items() if v is not None} for d in dicts])
    cells = [
        [json.dumps(v) if isinstance(v, list) else ("" if v is None else v) for v in d.values()]
        for d in dicts
    ]
    return csv_bytes([list(names), *cells])


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(samples, min_size=1, max_size=8),
    fmt=st.sampled_from(["jsonl", "csv"]),
    names=st.sampled_from([OURS, RAGAS]),
)
def test_any_valid_samples_written_as_jsonl_or_csv_read_back_equal(
    rows: list[Sample], fmt: DatasetFormat, names: tuple[str, ...]
) -> None:
    assert samples_of(written(rows, fmt, names), fmt) == rows


# --- a sample's own rubric ------------------------------------------------------------------

RUBRIC = {f"score{n}_description": f"what a {n} is" for n in range(1, 6)}


def test_a_csv_rubrics_column_of_json_text_gives_each_row_its_rubric() -> None:
    # GIVEN a CSV whose rubrics column holds each row's rubric as JSON text
    data = csv_bytes([["question", "answer", "rubrics"], ["q", "a", json.dumps(RUBRIC)]])

    # WHEN it is read
    items, _ = read(data, "csv")

    # THEN the row's sample carries the rubric, for instance_specific_rubrics
    assert [i.sample for i in items] == [Sample(question="q", answer="a", rubrics=RUBRIC)]


def test_a_rubric_missing_a_score_is_that_rows_error_naming_the_scores() -> None:
    partial = {k: v for k, v in RUBRIC.items() if k != "score3_description"}
    data = jsonl_bytes([{"question": "q", "rubrics": partial}, {"question": "q2"}])
    items, _ = read(data, "jsonl")
    assert isinstance(items[0], RowError) and items[0].field == "rubrics"
    assert "missing: score3_description" in items[0].message
    assert isinstance(items[1], DatasetRow)
