"""The three forms of a raw source (docs/raw_sources.md): a file, a landing folder of CSV and Parquet
deliveries (read once, a repeat adds nothing, a changed delivery is refused), and a warehouse relation; and a
registration that fails stops the build before anything is written. Real dbt builds of a small generated data
set; the deliveries are cut from its files."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from cdp.registry import load_registry
from datagen.sample_data import generate
from tests.conftest import dbt

STAGED = {"stg_crm__contacts": "crm_contact_id", "stg_shop__orders": "shop_order_id",
          "stg_web__events": "web_event_id"}


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    return header, rows


def _write(path: Path, header: list[str], rows: list[list[str]], **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, **kwargs)
        writer.writerow(header)
        writer.writerows(rows)


def _staged(db: Path) -> dict[str, set[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {model: set(con.execute(f"select * from {model}").fetchall()) for model in STAGED}


@pytest.fixture(scope="module")
def single_files(tmp_path_factory) -> tuple[Path, Path]:
    """The generated folder (one file per source) and its build."""
    root = tmp_path_factory.mktemp("landing")
    generate(200, 3, root / "raw")
    dbt(root / "raw", root / "files.duckdb", "build", "--exclude-resource-type", "unit_test")
    return root / "raw", root / "files.duckdb"


def test_landing_folders_of_csv_and_parquet_deliveries(single_files, tmp_path):
    raw, files_db = single_files
    landing = tmp_path / "raw"
    shutil.copytree(raw, landing)
    # shop_orders arrives as two CSV deliveries (the second with CRLF, a BOM and its columns in another order)
    # and a Parquet one; web_events as one Parquet delivery
    header, rows = _rows(raw / "shop_orders.csv")
    (landing / "shop_orders.csv").unlink()
    third = len(rows) // 3
    _write(landing / "shop_orders" / "2026-01-01.csv", header, rows[:third])
    order = list(reversed(header))
    with (landing / "shop_orders" / "2026-01-02.csv").open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(order)
        writer.writerows([list(reversed(r)) for r in rows[third:2 * third]])
    _write(tmp_path / "later.csv", header, rows[2 * third:])
    with duckdb.connect() as con:
        for source, target in ((tmp_path / "later.csv", landing / "shop_orders" / "2026-01-03.parquet"),
                               (raw / "web_events.csv", landing / "web_events" / "all.parquet")):
            target.parent.mkdir(exist_ok=True)
            con.execute(f"copy (select * from read_csv('{source}', all_varchar = true, header = true)) "
                        f"to '{target}' (format parquet)")
    (landing / "web_events.csv").unlink()
    db = tmp_path / "landing.duckdb"
    dbt(landing, db, "build", "--exclude-resource-type", "unit_test")
    assert _staged(db) == _staged(files_db)
    with duckdb.connect(str(db), read_only=True) as con:
        ledger = con.execute("select file_name, status, rows_read from raw.raw_deliveries "
                             "where source_name in ('shop_orders', 'web_events') order by file_name").fetchall()
        counts = con.execute("select rows_loaded from source_row_counts where source_name = 'shop_orders'").fetchone()
    assert [(f, s) for f, s, _ in ledger] == [("shop_orders/2026-01-01.csv", "read"), ("shop_orders/2026-01-02.csv", "read"),
                                             ("shop_orders/2026-01-03.parquet", "read"), ("web_events/all.parquet", "read")]
    assert sum(n for f, _, n in ledger if f.startswith("shop_orders")) == len(rows) == counts[0]

    # the first delivery again under another name adds nothing; a new delivery with one order is staged
    shutil.copyfile(landing / "shop_orders" / "2026-01-01.csv", landing / "shop_orders" / "2026-01-04.csv")
    with duckdb.connect(str(files_db), read_only=True) as con:
        staged = {key for (key,) in con.execute("select shop_order_id from stg_shop__orders").fetchall()}
    new_order = [*next(r for r in rows if r[0] in staged)]
    new_order[0] = "O-landed-1"
    _write(landing / "shop_orders" / "2026-01-05.csv", header, [new_order])
    dbt(landing, db, "build", "--exclude-resource-type", "unit_test")
    with duckdb.connect(str(db), read_only=True) as con:
        statuses = dict(con.execute("select file_name, status from raw.raw_deliveries "
                                    "where source_name = 'shop_orders'").fetchall())
        loaded = con.execute("select rows_loaded, rows_duplicate from source_row_counts "
                             "where source_name = 'shop_orders'").fetchone()
        landed = con.execute("select count(*) from stg_shop__orders where shop_order_id = 'O-landed-1'").fetchone()[0]
    assert statuses["shop_orders/2026-01-04.csv"] == "repeat"
    assert statuses["shop_orders/2026-01-05.csv"] == "read"
    assert loaded[0] == counts[0] + 1
    assert landed == 1

    # a delivery that changes after it was read is refused, by name, and nothing is built
    changed = landing / "shop_orders" / "2026-01-01.csv"
    _write(changed, header, rows[1:third])
    proc = dbt(landing, db, "build", "--exclude-resource-type", "unit_test", check=False)
    assert proc.returncode != 0
    assert "shop_orders/2026-01-01.csv: the delivery changed after it was read" in proc.stdout
    assert "PASS=" not in proc.stdout


def test_a_registry_entry_may_name_a_warehouse_relation(single_files, tmp_path):
    """crm_contacts kept by a loader in the warehouse (schema loader) instead of a file: the same staging."""
    raw, files_db = single_files
    folder = tmp_path / "raw"
    shutil.copytree(raw, folder)
    (folder / "crm_contacts.csv").unlink()
    db = tmp_path / "relation.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema loader")
        con.execute(f"create table loader.crm_contacts as select * from read_csv('{raw / 'crm_contacts.csv'}', "
                    "all_varchar = true, header = true)")
    sources = [{k: v for k, v in vars(s).items() if v not in (None, [], {}, False)} for s in load_registry().values()]
    for s in sources:
        if s["source_name"] == "crm_contacts":
            s["relation"] = "loader.crm_contacts"
    dbt(folder, db, "build", "--exclude-resource-type", "unit_test", vars={"raw_sources": sources})
    assert _staged(db) == _staged(files_db)


def test_a_failed_registration_stops_the_build(single_files, tmp_path):
    """A later source's file lacks a column: dbt stops with one line naming it, before any model, and the
    earlier sources still read the previous folder (nothing of the new folder was registered)."""
    raw, files_db = single_files
    db = tmp_path / files_db.name  # the same name: DuckDB names its catalog after the file
    shutil.copyfile(files_db, db)
    broken = tmp_path / "raw"
    shutil.copytree(raw, broken)
    header, rows = _rows(broken / "crm_contacts.csv")
    _write(broken / "crm_contacts.csv", header, rows[: len(rows) // 2])
    header, rows = _rows(broken / "email_consents.csv")
    _write(broken / "email_consents.csv", header[1:], [r[1:] for r in rows])
    proc = dbt(broken, db, "build", "--exclude-resource-type", "unit_test", check=False)
    assert proc.returncode != 0
    assert "email_consents.csv: the header lacks column(s) email" in proc.stdout
    assert "PASS=" not in proc.stdout and "START sql" not in proc.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        definition = con.execute("select sql from duckdb_views() where schema_name = 'raw' "
                                 "and view_name = 'crm_contacts'").fetchone()[0]
    assert str(raw) in definition and str(broken) not in definition
    assert _staged(db) == _staged(files_db)
    assert json.dumps(rows[0]) not in proc.stdout
