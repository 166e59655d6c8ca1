"""FEBRL3 (deduplication) and FEBRL4 (linkage) benchmark records (tests/data, see PROVENANCE.md): loaded as frames,
and written as a raw folder in the raw-source contract (docs/raw_sources.md): FEBRL3 as CRM contacts, FEBRL4 as
CRM contacts (file 4a) and shop accounts (file 4b). The contract carries a person's name, city and country, not a
date of birth, postcode, address or national id, so those fields do not reach the warehouse. The true person of a
record is the number in its rec_id."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from datagen.sample_data import RAW_FILES

DATA_DIR = Path(__file__).resolve().parents[1] / "tests" / "data"
COLUMNS = {"rec_id": "unique_id", "given_name": "first_name", "surname": "last_name", "suburb": "city",
           "soc_sec_id": "national_id", "address_1": "address"}
CREATED_AT = "2025-01-01T00:00:00Z"


def load(name: str) -> pd.DataFrame:
    """One FEBRL file (dataset3, dataset4a, dataset4b) with the matcher's column names and the true person."""
    frame = pd.read_csv(DATA_DIR / f"febrl_{name}.csv.gz", skipinitialspace=True, dtype=str)
    frame = frame.rename(columns=COLUMNS)
    frame["person"] = frame["unique_id"].str.extract(r"rec-(\d+)", expand=False)
    return frame


def dataset(which: str) -> dict[str, pd.DataFrame]:
    """FEBRL3 as {crm_contacts}, FEBRL4 as {crm_contacts: 4a, shop_customers: 4b}."""
    if which == "febrl3":
        return {"crm_contacts": load("dataset3")}
    if which == "febrl4":
        return {"crm_contacts": load("dataset4a"), "shop_customers": load("dataset4b")}
    raise ValueError(f"unknown FEBRL data set {which!r} (febrl3 or febrl4)")


def _row(source: str, r: pd.Series) -> list[str]:
    values = {"contact_id": r.unique_id, "customer_id": r.unique_id, "first_name": r.first_name,
              "last_name": r.last_name, "city": r.city, "country": "AU", "created_at": CREATED_AT,
              "updated_at": CREATED_AT}
    return ["" if pd.isna(values.get(c)) else str(values.get(c, "")) for c in RAW_FILES[source]]


def write_raw(which: str, out: Path) -> dict[tuple[str, str], str]:
    """Write the raw folder; returns the true person of each (source_name, source_record_id)."""
    out.mkdir(parents=True, exist_ok=True)
    frames = dataset(which)
    truth: dict[tuple[str, str], str] = {}
    for source, header in RAW_FILES.items():
        with (out / f"{source}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            if source in frames:
                for r in frames[source].itertuples(index=False):
                    writer.writerow(_row(source, pd.Series(r._asdict())))
                    truth[(source, r.unique_id)] = r.person
    return truth
