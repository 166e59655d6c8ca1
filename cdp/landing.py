"""Where a raw source's data is, in the three forms of docs/raw_sources.md: a file `<source>.csv` in
CDP_RAW_DIR, a landing folder `<source>/` of deliveries (`*.csv`, `*.parquet`, read in file-name order), or a
warehouse relation named in the registry. The dbt registration (macros/engine/raw_sources.sql) reads the same
forms; this is the Python view of them for the pre-flight check and for anything that watches the folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cdp.registry import RawSource

DELIVERY_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class SourceFiles:
    """One source's form and its files (empty for a relation, or for an optional source not delivered)."""

    source: RawSource
    form: str  # file, folder, relation, absent
    files: tuple[Path, ...] = ()


class RawFolderError(Exception):
    """A raw source cannot be read as the contract says; the message is one line naming the file and never
    holds a raw value."""


def landing_folder(raw_dir: Path, source: RawSource) -> Path:
    return raw_dir / source.source_name


def deliveries(folder: Path) -> list[Path]:
    """The delivery files of a landing folder, in file-name order (other files, such as a delivery still being
    written under a temporary name, are not deliveries)."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in DELIVERY_SUFFIXES),
                  key=lambda p: p.name)


def source_files(raw_dir: Path, source: RawSource) -> SourceFiles:
    """The form a source takes in raw_dir; RawFolderError when it has none (and is required) or two."""
    if source.relation:
        return SourceFiles(source, "relation")
    single = raw_dir / source.file_name
    delivered = deliveries(landing_folder(raw_dir, source))
    if single.is_file() and delivered:
        raise RawFolderError(f"{source.source_name}: both {source.file_name} and the landing folder "
                             f"{source.source_name}/ are in CDP_RAW_DIR; keep one")
    if delivered:
        return SourceFiles(source, "folder", tuple(delivered))
    if single.is_file():
        return SourceFiles(source, "file", (single,))
    if source.optional:
        return SourceFiles(source, "absent")
    raise RawFolderError(f"{source.source_name}: no {source.file_name} and no deliveries in {source.source_name}/ "
                         f"in CDP_RAW_DIR ({raw_dir}; docs/raw_sources.md)")
