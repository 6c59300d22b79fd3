"""Local JSONL and CSV datasets (a plain path, ``file://`` path, or an fsspec URL).

Each row is either ``{question, choices, answer}`` (multiple choice; ``answer`` is the index of
the correct choice or its text) or ``{text, label}`` (a class index 0..K-1; 0/1 for binary data,
true/false read as 1/0). Optional columns: ``id`` (default ``<file name>:<line>``) and ``difficulty``.
In CSV, ``choices`` is a JSON array.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ensemw2s.spec.catalog import DATA_FILE_SUFFIXES

from .errors import DatasetError
from .records import Item, LabelledItem, MultipleChoiceItem

SUFFIXES = DATA_FILE_SUFFIXES
_ROW_HELP = "each row needs text+label or question+choices+answer"


def load_local_items(source: str, field_path: str = "spec.dataset.source") -> list[Item]:
    """All rows of a JSONL or CSV file as items, in file order."""
    return [item for _, item in load_local_rows(source, field_path)]


def load_local_rows(source: str, field_path: str = "spec.dataset.source") -> list[tuple[str, Item]]:
    """All rows of a JSONL or CSV file as ``(file:line, item)``, in file order (what a message names)."""
    return read_local_rows(source, field_path, _row_to_item, _ROW_HELP)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


Row = TypeVar("Row", bound=_Identified)


def read_local_rows(
    source: str, field_path: str, parse: Callable[[Mapping[str, Any], str, str], Row], row_help: str
) -> list[tuple[str, Row]]:
    """Every row of a JSONL or CSV file parsed by ``parse(row, "file:line", default id)``, as ``(file:line, row)``
    in file order; ids must be unique and the file must hold a row (``row_help`` says what a row needs)."""
    suffix = next((s for s in SUFFIXES if source.lower().endswith(s)), None)
    if suffix is None:
        raise DatasetError(
            f"{field_path}: unsupported file type {source!r} (allowed: {', '.join(SUFFIXES)}); "
            "convert the file to JSONL or CSV"
        )
    text = read_text(source, field_path)
    where = source.removeprefix("file://")
    rows = jsonl_rows(text, where) if suffix == ".jsonl" else csv_rows(text, where)
    parsed: list[tuple[str, Row]] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        record = parse(row, f"{where}:{line}", f"{Path(where).name}:{line}")
        if record.id in first_line:
            raise DatasetError(
                f"{where}:{line}: duplicate id '{record.id}' (first on line {first_line[record.id]}); "
                "ids must be unique: fix the id column or drop it"
            )
        first_line[record.id] = line
        parsed.append((f"{where}:{line}", record))
    if not parsed:
        raise DatasetError(f"{field_path}: {where!r} holds no rows; {row_help}")
    return parsed


def is_local_source(source: str) -> bool:
    """A plain path or a ``file://`` URL (not a remote fsspec URL such as ``s3://``)."""
    return "://" not in source or source.startswith("file://")


def read_text(source: str, field_path: str) -> str:
    if not is_local_source(source):
        return _decode(_read_fsspec(source, field_path), source)
    path = Path(source.removeprefix("file://")).expanduser()
    if path.is_dir():
        raise DatasetError(f"{field_path}: {str(path)!r} is a directory; name one JSONL or CSV file")
    if not path.is_file():
        raise DatasetError(
            f"{field_path}: file not found {str(path)!r}; check the path "
            "(relative paths resolve against the working directory)"
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DatasetError(
            f"{field_path}: cannot read {str(path)!r} ({error.strerror}); check its permissions"
        ) from None
    return _decode(data, source.removeprefix("file://"))


def _decode(data: bytes, where: str) -> str:
    """UTF-8 text (a leading byte-order mark is dropped); a bad byte is reported with its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DatasetError(
            f"{where}:{line}: not valid UTF-8 (byte {data[error.start]:#04x} at offset {error.start}); "
            "save the file as UTF-8"
        ) from None


def _read_fsspec(source: str, field_path: str) -> bytes:
    try:
        import fsspec
    except ImportError:
        raise DatasetError(
            f"{field_path}: reading {source!r} needs the 'fsspec' package; "
            "install it (pip install 'ensemw2s[train]') or copy the file locally"
        ) from None
    try:
        with fsspec.open(source, "rb") as handle:
            return bytes(handle.read())
    except FileNotFoundError:
        raise DatasetError(f"{field_path}: file not found {source!r}; check the URL") from None


def jsonl_rows(text: str, where: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}:{line}: invalid JSON ({exc.msg}); each line must be one JSON object") from None
        if not isinstance(row, dict):
            raise DatasetError(
                f"{where}:{line}: expected a JSON object, got {type(row).__name__}; "
                f"write one object per line ({_ROW_HELP})"
            )
        yield line, row


def csv_rows(text: str, where: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text), strict=True)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DatasetError(
                f"{where}:{reader.line_num + 1}: not valid CSV ({error}); close every quote and quote cells that hold "
                "commas, quotes or line breaks"
            ) from None
        line = reader.line_num
        if None in row:
            raise DatasetError(
                f"{where}:{line}: more cells than header columns ({len(reader.fieldnames or [])}); "
                "quote cells that contain commas"
            )
        cells = {k: v for k, v in row.items() if v is not None and v != ""}
        if "choices" in cells:
            cells["choices"] = _csv_choices(cells["choices"], where, line)
        yield line, cells


def _csv_choices(cell: str, where: str, line: int) -> list[Any]:
    try:
        choices = json.loads(cell)
    except json.JSONDecodeError:
        choices = None
    if not isinstance(choices, list):
        raise DatasetError(
            f"{where}:{line}: field 'choices' must be a JSON array (got {cell!r}); "
            'write it as ["first", "second", ...] in one quoted cell'
        )
    return choices


def _row_to_item(row: Mapping[str, Any], where: str, default_id: str) -> Item:
    item_id = str(row.get("id", default_id))
    difficulty = row_difficulty(row, where)
    if "text" in row or "label" in row:
        _require(row, ("text", "label"), where)
        return LabelledItem(item_id, row_text(row, "text", where), _class_label(row["label"], where), difficulty)
    _require(row, ("question", "choices", "answer"), where)
    choices = row["choices"]
    if not isinstance(choices, list) or len(choices) < 2:
        raise DatasetError(
            f"{where}: field 'choices' must be a list of at least 2 answers (got {choices!r}); add the answer options"
        )
    texts = tuple(choice_text(c, index, where) for index, c in enumerate(choices))
    answer_index = _answer_index(row["answer"], texts, where)
    return MultipleChoiceItem(item_id, row_text(row, "question", where), texts, answer_index, difficulty)


def row_text(row: Mapping[str, Any], name: str, where: str) -> str:
    """A text field: a non-empty string (``null`` or a number is an error, never the text "None")."""
    value = row[name]
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(
            f"{where}: field '{name}' must be a non-empty string (got {value!r}); write the text in quotes "
            "or drop the row"
        )
    return value


def choice_text(value: Any, index: int, where: str) -> str:
    """One answer choice: a string or a number (written as text), never null, true/false or a list."""
    if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value).strip():
        raise DatasetError(
            f"{where}: field 'choices' item {index} must be a non-empty string or a number (got {value!r}); "
            "fix or drop the choice"
        )
    return str(value)


def _require(row: Mapping[str, Any], names: tuple[str, ...], where: str) -> None:
    for name in names:
        if name not in row:
            fields = ", ".join(sorted(row)) or "none"
            raise DatasetError(f"{where}: missing field '{name}' (fields: {fields}); {_ROW_HELP}")


def _class_label(value: Any, where: str) -> int:
    """A class index: an int >= 0, digits (CSV cells), or true/false (read as 1/0)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    raise DatasetError(
        f"{where}: field 'label' must be a class index 0..K-1 (got {value!r}); map the labels to 0, 1, ..., K-1"
    )


def _answer_index(answer: Any, choices: tuple[str, ...], where: str) -> int:
    """An int is an index; a string is a choice text, else (CSV cells) an index written as digits."""
    if isinstance(answer, bool):
        pass
    elif isinstance(answer, int):
        if 0 <= answer < len(choices):
            return answer
    elif isinstance(answer, str):
        if answer in choices:
            return choices.index(answer)
        if answer.strip().isdigit() and int(answer) < len(choices):
            return int(answer)
    raise DatasetError(
        f"{where}: field 'answer' is neither a choice index 0..{len(choices) - 1} nor one of the "
        f"choices (got {answer!r}); set it to the correct choice's index or text"
    )


def row_difficulty(row: Mapping[str, Any], where: str) -> float | None:
    value = row.get("difficulty")
    if value is None:
        return None
    try:
        difficulty = float(value)
    except (TypeError, ValueError):
        difficulty = math.nan
    if isinstance(value, bool) or not math.isfinite(difficulty):
        raise DatasetError(
            f"{where}: field 'difficulty' must be a finite number (got {value!r}); fix it or leave it empty"
        )
    return difficulty
