"""The raw folder checked before dbt runs: each file of each source (cdp/landing.py finds them) is non-empty,
UTF-8, and has a header naming every registry column once (a Parquet delivery: a readable schema with them).
A problem stops the run with one line naming the file and what is wrong, never a raw line: the checks report
byte offsets and column names, not content. Malformed lines inside a good file do not stop anything: the
registration quarantines them (macros/engine/raw_sources.sql)."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable
from pathlib import Path

import duckdb

from cdp.landing import RawFolderError, source_files
from cdp.registry import RawSource, load_registry

CHUNK = 1 << 20


def check_raw_folder(raw_dir: Path, registry: dict[str, RawSource] | None = None) -> list[str]:
    """One line per problem found (empty: the folder can be registered)."""
    problems: list[str] = []
    for source in (registry or load_registry()).values():
        try:
            found = source_files(raw_dir, source)
        except RawFolderError as exc:
            problems.append(str(exc))
            continue
        for path in found.files:
            label = path.relative_to(raw_dir).as_posix()
            problem = (_parquet_problem(path, source.raw_columns) if path.suffix.lower() == ".parquet"
                       else _csv_problem(path, source.raw_columns))
            if problem:
                problems.append(f"{label}: {problem}")
    return problems


def require_clean_raw_folder(raw_dir: Path) -> None:
    """Stop the run (SystemExit, one line) when the raw folder has a problem."""
    problems = check_raw_folder(raw_dir)
    if problems:
        more = f" ({len(problems) - 1} more raw-file problem(s): fix this one and run again)" if len(problems) > 1 else ""
        raise SystemExit(f"raw data in {raw_dir}: {problems[0]}{more}")


def _csv_problem(path: Path, raw_columns: list[str]) -> str | None:
    if path.stat().st_size == 0:
        return "the file is empty (0 bytes); a source with no data still has its header row"
    offset = _first_invalid_utf8(path)
    if offset is not None:
        return f"not UTF-8 (the first invalid byte is at offset {offset}); export it as UTF-8"
    return _header_problem(_header(path), raw_columns)


def _first_invalid_utf8(path: Path) -> int | None:
    """Byte offset of the first byte that is not UTF-8, or None; the file is read in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    consumed = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            pending = len(decoder.getstate()[0])  # bytes of a character split across chunks
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return consumed - pending + exc.start
            consumed += len(chunk)
        pending = len(decoder.getstate()[0])
        return consumed - pending if pending else None


def _header(path: Path) -> list[str]:
    """The header's column names (a byte-order mark dropped, CRLF or LF)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        try:
            first = next(csv.reader(fh), [])
        except csv.Error:
            return []
    return [name.strip() for name in first]


def _header_problem(header: Iterable[str], raw_columns: list[str]) -> str | None:
    names = list(header)
    missing = [c for c in raw_columns if c not in names]
    if missing:
        return f"the header lacks column(s) {', '.join(missing)} (docs/raw_sources.md)"
    repeated = sorted({c for c in names if c and names.count(c) > 1})
    if repeated:
        return f"the header names column(s) {', '.join(repeated)} more than once"
    return None


def _parquet_problem(path: Path, raw_columns: list[str]) -> str | None:
    if path.stat().st_size == 0:
        return "the file is empty (0 bytes)"
    try:
        with duckdb.connect() as con:
            names = [row[0] for row in con.execute(
                "select name from parquet_schema(?) where num_children is null", [str(path)]).fetchall()]
    except duckdb.Error:
        return "not a readable Parquet file"
    return _header_problem(names, raw_columns)
