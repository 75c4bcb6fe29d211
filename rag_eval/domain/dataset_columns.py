"""How a dataset file names its columns: our names, ragas' and Hugging Face's, or the
request's column map; which column gives which sample field, and what is wrong when a
header gives none or two for one field."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from difflib import get_close_matches
from typing import Any, Literal

from rag_eval.domain.errors import DatasetInvalid
from rag_eval.domain.request import FIELD_SYNONYMS, did_you_mean
from rag_eval.domain.sample import Sample

# How the file names its fields (of the first CSV header or JSONL object):
# "rag_eval": ours; "ragas": ragas' / Hugging Face's; "mixed": some of each;
# "mapped": at least one column renamed by the column_map. Ids count for neither.
Scheme = Literal["rag_eval", "ragas", "mixed", "mapped"]

# A file's `user_input` column is ragas' name for our question, or a conversation's
# messages (a list: the sample reads it as one); either way it gives the `question` field.
SAMPLE_FIELDS = tuple(name for name in Sample.model_fields if name != "user_input")
_ID_NAMES = frozenset({"sample_id", "id"})
_MAX_HINTS = 20
_SURROGATE = re.compile("[\ud800-\udfff]")  # in a name, it could not be written out
# A CSV column (or a flat JSONL key) `metadata.<key>` gives one label of the sample's
# metadata; a JSONL row may instead carry a `metadata` object.
METADATA_PREFIX = "metadata."


def metadata_key(name: str) -> str | None:
    """The metadata key a column gives (`metadata.topic` -> topic), else None."""
    return name.removeprefix(METADATA_PREFIX) if name.startswith(METADATA_PREFIX) else None


def checked_column_map(column_map: Mapping[str, str]) -> dict[str, str]:
    """The map with ragas' names resolved to ours; unknown fields are the caller's error."""
    resolved = {name: FIELD_SYNONYMS.get(field, field) for name, field in column_map.items()}
    unknown = [name for name, field in resolved.items() if field not in SAMPLE_FIELDS]
    if unknown:
        raise DatasetInvalid(
            [
                {
                    "field": f"dataset.column_map.{name}",
                    "message": f"maps to {column_map[name]!r}, which is not a sample field"
                    + did_you_mean([column_map[name]], SAMPLE_FIELDS),
                    "allowed": list(SAMPLE_FIELDS),
                }
                for name in unknown
            ]
        )
    return resolved


def field_for(name: str, column_map: Mapping[str, str]) -> str | None:
    if name in column_map:
        return column_map[name]
    if name in SAMPLE_FIELDS:
        return name
    return FIELD_SYNONYMS.get(name)


def layout(
    names: Iterable[str], column_map: Mapping[str, str]
) -> tuple[dict[str, str], list[str], list[list[str]]]:
    """Our field -> the file's name for it; the names that give no field (printable, each
    once); and the names that give the same field (each such group once)."""
    by_field: dict[str, list[str]] = {}
    ignored: dict[str, None] = {}
    for name in names:
        field = field_for(name, column_map)
        if field is None and metadata_key(name) is not None:
            continue  # a label of the metadata: read by `metadata_columns`
        if field is None:
            ignored[_SURROGATE.sub("\ufffd", name)] = None
        else:
            by_field.setdefault(field, []).append(name)
    clashes = [group for group in by_field.values() if len(group) > 1]
    return {field: group[0] for field, group in by_field.items()}, list(ignored), clashes


def scheme(names: Iterable[str], column_map: Mapping[str, str]) -> Scheme:
    kinds: set[str] = set()
    for name in names:
        if name in column_map:
            kinds.add("mapped")
        elif name in SAMPLE_FIELDS and name not in _ID_NAMES:
            kinds.add("rag_eval")
        elif name in FIELD_SYNONYMS and name not in _ID_NAMES:
            kinds.add("ragas")
    if "mapped" in kinds:
        return "mapped"
    if kinds == {"rag_eval", "ragas"}:
        return "mixed"
    return "ragas" if kinds == {"ragas"} else "rag_eval"


_NAMES = (*SAMPLE_FIELDS, *FIELD_SYNONYMS)
_SEPARATORS = re.compile(r"[\s\-]+")


def misspelt(name: str) -> str | None:
    """The field a column's name misspells (`answr` -> answer, `Ground Truth` ->
    ground_truth), else None. A name that adds a word to a field's (`question_id`,
    `reference_contexts`) is a column of its own, and short names are left alone: an
    ignored column must not fail a file by chance."""
    normal = _SEPARATORS.sub("_", name.strip().lower())
    if normal in _NAMES:
        return normal
    if len(normal) < 4 or any(
        normal.startswith(f"{k}_") or normal.endswith(f"_{k}") for k in _NAMES
    ):
        return None
    close = get_close_matches(normal, _NAMES, n=1, cutoff=0.8)
    return close[0] if close else None


def misspelt_problems(ignored: Iterable[str]) -> list[tuple[str, str]]:
    """(column, the message) for each ignored column that misspells a field."""
    found = [(name, misspelt(name)) for name in ignored]
    return [
        (name, f"is not a field (did you mean {guess}?): rename it; other columns are ignored")
        for name, guess in found[:_MAX_HINTS]
        if guess
    ]


def question_names(column_map: Mapping[str, str]) -> str:
    mapped = [name for name, field in column_map.items() if field == "question"]
    return " or ".join([*mapped, "question", "user_input"])


def question_hints(names: list[str]) -> str:
    """`; Question is not a field (did you mean question?)` for names that look like one."""
    hints = [(n, did_you_mean([n], ("question", "user_input"))) for n in names[:_MAX_HINTS]]
    return "".join(f"; {name} is not a field{hint}" for name, hint in hints if hint)


def check_header(
    header: list[str],
    names: dict[str, str],
    clashes: list[list[str]],
    column_map: Mapping[str, str],
) -> None:
    problems = [clash_problem(group, column_map) for group in clashes]
    ignored = [
        name
        for name in header
        if field_for(name, column_map) is None and metadata_key(name) is None
    ]
    problems += [
        {"field": "dataset", "message": f"column {name} {message}", "allowed": list(SAMPLE_FIELDS)}
        for name, message in misspelt_problems(ignored)
        if "question" in names or misspelt(name) not in ("question", "user_input")
    ]
    if "question" not in names:
        problems.append(
            {
                "field": "dataset",
                "message": f"has no question column (its columns: {', '.join(header)}); "
                "name one question or user_input, or map yours with a column map"
                + question_hints(header),
                "allowed": list(SAMPLE_FIELDS),
            }
        )
    missing = [name for name in column_map if name not in header]
    if missing:
        problems.append(
            {
                "field": "dataset.column_map",
                "message": f"names column(s) the file does not have: {', '.join(missing)}",
                "allowed": header,
            }
        )
    if problems:
        raise DatasetInvalid(problems)


def clash_problem(group: list[str], column_map: Mapping[str, str]) -> dict[str, Any]:
    field = field_for(group[0], column_map)
    if len(set(group)) == 1:
        message = f"has {len(group)} columns named {group[0]}; keep one"
    else:
        which = "both" if len(group) == 2 else "all"
        message = f"has columns {' and '.join(group)}, which {which} give {field}; keep one"
    return {"field": "dataset", "message": message}


def metadata_columns(names: list[str], column_map: Mapping[str, str]) -> dict[str, str]:
    """Metadata key -> the column that gives it (`metadata.<key>`, unless mapped)."""
    return {
        key: name
        for name in names
        if field_for(name, column_map) is None and (key := metadata_key(name)) is not None
    }


def metadata_clash(
    names: list[str], fields: Mapping[str, str], given: Mapping[str, str]
) -> str | None:
    """What is wrong with a file's metadata columns, else None: a `metadata` field
    (`fields`: ours -> the file's name) beside `metadata.<key>` columns, or one key's
    column twice."""
    if given and "metadata" in fields:
        return f"has {fields['metadata']} and metadata.<key> columns; give the labels one way"
    twice = sorted({n for n in given.values() if names.count(n) > 1})
    return f"has {len(twice)} column(s) named {twice[0]}; keep one" if twice else None
