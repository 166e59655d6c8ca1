"""The pre-flight check of the raw folder (cdp/preflight.py), without dbt: each bad file gives one line naming
the file and the problem and never a raw value; the forms the contract allows (BOM, CRLF, columns in another
order, extra columns, an optional file absent, a landing folder) pass."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cdp.preflight import check_raw_folder
from datagen.sample_data import RAW_FILES

SECRET = "zoe.secret@example.org"


def _folder(tmp_path: Path) -> Path:
    """A valid raw folder: every required file with its header and one row carrying a personal email."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, header in RAW_FILES.items():
        with (raw / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerow([SECRET if "email" in column else "x" for column in header])
    return raw


def test_a_valid_folder_passes_in_every_form_the_contract_allows(tmp_path):
    raw = _folder(tmp_path)
    assert check_raw_folder(raw) == []
    # BOM and CRLF, columns in another order and an extra column
    header = list(reversed(RAW_FILES["shop_orders"])) + ["loaded_by"]
    with (raw / "shop_orders.csv").open("w", newline="", encoding="utf-8-sig") as fh:
        csv.writer(fh, lineterminator="\r\n").writerows([header, ["v"] * len(header)])
    # web_events as a landing folder: a CSV and a Parquet delivery, and a file still being written
    (raw / "web_events").mkdir()
    (raw / "web_events.csv").rename(raw / "web_events" / "001.csv")
    with duckdb.connect() as con:
        con.execute(f"copy (select * from read_csv('{raw / 'web_events' / '001.csv'}', all_varchar = true)) "
                    f"to '{raw / 'web_events' / '002.parquet'}' (format parquet)")
    (raw / "web_events" / "003.csv.partial").write_bytes(b"\xff\xfe")
    assert check_raw_folder(raw) == []


@pytest.mark.parametrize(("damage", "expected"), [
    (lambda raw: (raw / "shop_orders.csv").write_bytes(b""),
     "shop_orders.csv: the file is empty (0 bytes)"),
    (lambda raw: (raw / "crm_contacts.csv").write_bytes(
        (raw / "crm_contacts.csv").read_bytes().replace(b"zoe", b"zo\xe9")),
     "crm_contacts.csv: not UTF-8 (the first invalid byte is at offset"),
    (lambda raw: (raw / "web_events.csv").write_text(
        (raw / "web_events.csv").read_text().replace("email", "e_mail", 1)),
     "web_events.csv: the header lacks column(s) email"),
    (lambda raw: (raw / "email_consents.csv").write_text(
        (raw / "email_consents.csv").read_text().replace("source", "status", 1)),
     "email_consents.csv: the header lacks column(s) source"),
    (lambda raw: (raw / "email_consents.csv").write_text(
        (raw / "email_consents.csv").read_text().replace("email,", "email,email,", 1)),
     "email_consents.csv: the header names column(s) email more than once"),
    (lambda raw: (raw / "support_tickets.csv").unlink(),
     "support_tickets: no support_tickets.csv and no deliveries in support_tickets/"),
    (lambda raw: ((raw / "shop_customers").mkdir(), (raw / "shop_customers" / "a.parquet").write_bytes(b"not parquet")),
     "shop_customers: both shop_customers.csv and the landing folder shop_customers/"),
])
def test_each_bad_file_is_one_line_naming_it(tmp_path, damage, expected):
    raw = _folder(tmp_path)
    damage(raw)
    problems = check_raw_folder(raw)
    assert len(problems) == 1 and problems[0].startswith(expected), problems
    assert SECRET not in problems[0] and "zo" not in problems[0].split(":", 1)[1]


def test_cdp_build_stops_before_dbt_with_one_line(tmp_path):
    """`cdp build` on a folder with a bad file: exit code 1, one line on stderr naming the file, nothing else run."""
    raw = _folder(tmp_path)
    (raw / "shop_orders.csv").write_bytes(b"")
    env = dict(os.environ, CDP_RAW_DIR=str(raw), CDP_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.run([sys.executable, "-m", "cdp.cli", "build"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"raw data in {raw}: shop_orders.csv: the file is empty (0 bytes); a source with no data still has its "
        "header row"]
    assert not (tmp_path / "state" / "warehouse.duckdb").exists()
