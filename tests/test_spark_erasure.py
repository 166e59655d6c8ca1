"""Erasure on Spark, whose parquet tables cannot DELETE: every table holding an erased person's rows is rewritten
without them (macros/privacy/parquet_rewrite.sql). One erasure request for a person with records in several
sources, built on Spark and on DuckDB from the same raw files; then no file of the Spark warehouse holds any of
the person's values (raw bytes, with parquet written uncompressed, and every parquet file decoded), the privacy
request log equals DuckDB's, a rewrite interrupted after its copy recovers on the rerun with nothing lost, and
the same request delivered again changes nothing."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from datagen.sample_data import generate
from tests.compare import differences
from predict import spark_build as predict_steps
from tests.conftest import PROJECT_DIR, dbt

pytestmark = pytest.mark.spark

# Raw id column of each identifier source's file.
RAW_IDS = {"crm_contacts": "contact_id", "shop_customers": "customer_id", "shop_orders": "order_id",
           "web_events": "event_id", "support_tickets": "ticket_id"}
# Raw columns that hold a person's own values (names, emails, phones).
RAW_VALUES = ("email", "phone", "requester_email", "requester_phone", "requester_name")
RECEIVED = "2026-09-01T00:00:00Z"
LEDGER = "int_person_ids_assigned"


@dataclass
class Person:
    person_id: str
    email: str
    phone: str
    values: set[str] = field(default_factory=set)  # emails, phones (raw and normalised), full names
    names: set[tuple[str, str]] = field(default_factory=set)  # (first, last) as the CRM and the shop hold them
    record_ids: set[str] = field(default_factory=set)


@dataclass
class Runs:
    root: Path
    person: Person
    before: dict[str, list]  # scans before the erasure (the scan finds the person)
    interrupted: dict[str, object]  # what the interrupted build left
    recovered_log: str
    ids_before: dict[tuple[str, str], str]  # (source, record id) -> person id, Spark's first build
    after: dict[str, list]
    again: dict[str, list]


def spark_build(root: Path, *extra: str, verb: str = "build", check: bool = True) -> tuple[int, str]:
    """Spark's seeds and models as `cdp build --target spark` builds them (predict/spark_build.py: dbt, the
    prediction step, dbt for what reads the predictions); its return code. Spark's data tests run in
    tests/test_spark.py (each unit test takes most of a minute on Spark); the data here is checked against
    DuckDB's. Returns the return code and dbt's output."""
    skip = ("--exclude-resource-type", "unit_test", "test") if verb == "build" else ()
    output: list[str] = []

    def run_dbt(**selection) -> int:
        proc = dbt(root / "raw", root / "unused.duckdb", verb, *skip, *extra, target="spark", spark_dir=root / "spark",
                   check=check, **selection)
        output.append(proc.stdout)
        return proc.returncode

    env = {**os.environ, "CDP_TARGET": "spark", "CDP_SPARK_DIR": str(root / "spark"), "SPARK_LOCAL_IP": "127.0.0.1",
           "CDP_RAW_DIR": str(root / "raw"), "DBT_PROFILES_DIR": str(PROJECT_DIR)}
    rc = predict_steps.build(run_dbt, lambda: predict_steps.run_prediction_step(PROJECT_DIR, env))
    assert rc == 0 or not check, f"the prediction step failed (exit code {rc})"
    return rc, "".join(output)


def duck_build(root: Path, verb: str = "build") -> None:
    dbt(root / "raw", root / "duck.duckdb", verb)


def warehouse(root: Path) -> Path:
    return root / "spark" / "warehouse" / "cdp.db"


def spark_table(root: Path, table: str) -> str:
    return f"read_parquet('{warehouse(root) / table}/*.parquet')"


def raw_rows(raw: Path) -> list[tuple[str, str, dict[str, str]]]:
    rows = []
    for source, id_column in RAW_IDS.items():
        with (raw / f"{source}.csv").open(newline="", encoding="utf-8") as fh:
            rows += [(source, row[id_column].strip(), row) for row in csv.DictReader(fh)]
    return rows


def cell(row: dict, column: str) -> str:
    return (row.get(column) or "").strip()


def pick_person(root: Path) -> Person:
    """A person of the DuckDB build with records in at least three sources (a support ticket among them), an
    email and a phone, whose values (emails, phones, names) no other person's raw rows or identifiers carry, not
    even inside a longer value: whatever the scans find afterwards can only be theirs."""
    rows = raw_rows(root / "raw")
    with duckdb.connect(str(root / "duck.duckdb"), read_only=True) as con:
        candidates = [pid for (pid,) in con.execute("""
            select r.person_id from person_records r join identity_graph g using (person_id)
            group by r.person_id
            having count(distinct r.source_name) >= 3
                and count(distinct r.source_name) filter (where r.source_name = 'support_tickets') = 1
                and count(distinct g.identifier_value) filter (where g.identifier_type = 'phone') >= 1
            order by count(distinct r.source_name) desc, r.person_id""").fetchall()]
        for pid in candidates:
            ids = con.execute("select identifier_type, identifier_value from identity_graph where person_id = ?",
                              [pid]).fetchall()
            shared = {v for (v,) in con.execute(
                "select identifier_value from identity_graph where person_id <> ?", [pid]).fetchall()}
            records = {(s, r) for s, r in con.execute(
                "select source_name, source_record_id from person_records where person_id = ?", [pid]).fetchall()}
            own = [row for source, rid, row in rows if (source, rid) in records]
            others = "\n".join(cell(row, c).lower() for source, rid, row in rows if (source, rid) not in records
                               for c in row if isinstance(c, str))
            names = {(cell(row, "first_name"), cell(row, "last_name")) for row in own
                     if cell(row, "first_name") and cell(row, "last_name")}
            full = {cell(row, "requester_name") for row in own if cell(row, "requester_name")}
            full |= {f"{first} {last}" for first, last in names}
            values = {v for t, v in ids if t in ("email", "phone")} | full
            values |= {cell(row, c) for row in own for c in RAW_VALUES if cell(row, c)}
            clash = {v for v in values if v in shared or v.lower() in others}
            clash |= {f"{f} {la}" for f, la in names if f"\n{f.lower()}\n{la.lower()}\n" in others}
            emails = sorted(v for t, v in ids if t == "email" and v not in clash)
            phones = sorted(v for t, v in ids if t == "phone" and v not in clash)
            if clash & full or not emails or not phones:
                continue
            return Person(pid, emails[0], phones[0], {v for v in values - clash if len(v) >= 6}, names,
                          {rid for _, rid in records})
    raise AssertionError("the generated data has a person in three sources whose values no one else holds")


def byte_scan(spark_dir: Path, needles: set[str]) -> list[tuple[str, str]]:
    """Every file under the Spark folder (tables, metastore, logs), as text, case-insensitively."""
    hits = []
    for path in sorted(p for p in spark_dir.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", errors="replace").lower()
        hits += [(str(path.relative_to(spark_dir)), n) for n in needles if n.lower() in text]
    return hits


def decoded_scan(spark_dir: Path, person: Person) -> list[tuple[str, str]]:
    """Every parquet file under the Spark folder read by DuckDB, every column as text: a cell containing one of
    the person's values, a cell equal to (or a quoted) record id or person id of theirs, or a row holding their
    first and last name."""
    hits = []
    ids = {person.person_id.lower(), *(r.lower() for r in person.record_ids)}
    values = {v.lower() for v in person.values}
    names = {(f.lower(), la.lower()) for f, la in person.names}
    with duckdb.connect() as con:
        for path in sorted(p for p in spark_dir.rglob("*") if p.is_file()):
            with path.open("rb") as fh:
                if fh.read(4) != b"PAR1":
                    continue
            for row in con.execute(f"select columns(*)::varchar from read_parquet('{path}')").fetchall():
                cells = [c.lower() for c in row if c is not None]
                where = str(path.relative_to(spark_dir))
                hits += [(where, v) for v in values if any(v in c for c in cells)]
                hits += [(where, i) for i in ids if any(c == i or f'"{i}"' in c or c.endswith("|" + i)
                                                        for c in cells)]
                hits += [(where, f"{f} {la}") for f, la in names if f in cells and la in cells]
    return hits


def scans(root: Path, person: Person) -> dict[str, list]:
    spark_dir = root / "spark"
    return {"bytes": byte_scan(spark_dir, person.values | {person.person_id}),
            "decoded": decoded_scan(spark_dir, person)}


def request_logs(root: Path) -> tuple[str, str]:
    """SQL for DuckDB's and Spark's privacy_request_log on one connection (alias duck attached)."""
    cols = "request_id, request_type, cast(cast(received_at as timestamp) as varchar) as received_at, status, " \
           "quarantine_reason, " \
           "persons_matched, records_matched, erased_at is not null as has_erased_at"
    return (f"select {cols} from duck.main.privacy_request_log",
            f"select {cols} from {spark_table(root, 'privacy_request_log')}")


def compare_with_duckdb(root: Path) -> dict[str, list]:
    with duckdb.connect() as con:
        con.execute(f"attach '{root / 'duck.duckdb'}' as duck (read_only)")
        duck_log, spark_log = request_logs(root)
        records = "select source_name, source_record_id from {}"
        return {
            "log": con.execute(f"select * from ({spark_log}) order by request_id").fetchall(),
            "log_differences": differences(con, duck_log, spark_log),
            "record_differences": differences(con, records.format("duck.main.person_records"),
                                              records.format(spark_table(root, "person_records"))),
            "records": con.execute(f"select count(*) from {spark_table(root, 'person_records')}").fetchall(),
        }


def person_ids(root: Path) -> dict[tuple[str, str], str]:
    with duckdb.connect() as con:
        rows = con.execute("select source_name, source_record_id, person_id from "
                           f"{spark_table(root, 'person_records')}").fetchall()
    return {(s, r): p for s, r, p in rows}


def request_line(request_id: str, email: str = "", phone: str = "") -> str:
    return f'{request_id},erasure,"{email}",{phone},{RECEIVED}\n'


@pytest.fixture(scope="module")
def runs(tmp_path_factory, monkeypatch_module) -> Runs:
    # parquet written uncompressed: the raw byte scan then sees every string value the tables hold
    monkeypatch_module.setenv("PYSPARK_SUBMIT_ARGS",
                              "--conf spark.sql.parquet.compression.codec=uncompressed pyspark-shell")
    root = tmp_path_factory.mktemp("spark_erasure")
    generate(300, 19, root / "raw")
    duck_build(root)
    spark_build(root)
    person = pick_person(root)
    before = scans(root, person)
    ids_before = person_ids(root)

    # one request naming one email, upper-cased and padded as a form may send it
    (root / "raw" / "privacy_requests.csv").write_text(
        "request_id,request_type,email,phone,received_at\n" + request_line("req-1", f"  {person.email.upper()} "),
        encoding="utf-8")
    duck_build(root, "run")
    # the ledger's rewrite stops after its copy, in the state of a run killed during the overwrite
    failed, _ = spark_build(root, "--vars", f"{{erasure_interrupt_after_copy: {LEDGER}}}", verb="run", check=False)
    with duckdb.connect() as con:
        interrupted = {
            "returncode": failed,
            "ledger_rows": con.execute(f"select count(*) from read_parquet('{warehouse(root) / LEDGER}/*.parquet', "
                                       "union_by_name = true)").fetchone()[0]
            if sorted((warehouse(root) / LEDGER).glob("*.parquet")) else 0,
            "copy_rows": con.execute(f"select count(*) from {spark_table(root, LEDGER + '__erasure_copy')}").fetchone()[0],
        }
    _, recovered = spark_build(root, verb="run")
    after = {**scans(root, person), **compare_with_duckdb(root), "ids": person_ids(root)}

    # the same request delivered again, and another naming the same person's phone
    with (root / "raw" / "privacy_requests.csv").open("a", encoding="utf-8") as fh:
        fh.write(request_line("req-1", f"  {person.email.upper()} "))
        fh.write(request_line("req-2", phone=person.phone))
    duck_build(root, "run")
    spark_build(root, verb="run")
    again = {**scans(root, person), **compare_with_duckdb(root)}
    return Runs(root, person, before, interrupted, recovered, ids_before, after, again)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_the_scans_find_the_person_before_the_erasure(runs):
    assert runs.before["bytes"], "the raw byte scan finds the person's values in the warehouse before the erasure"
    assert {v for _, v in runs.before["decoded"]} >= {runs.person.email.lower(), runs.person.person_id.lower()}
    assert any(" " in v for _, v in runs.before["decoded"]), "the decoded scan finds the person's name"


def test_no_file_of_the_spark_warehouse_keeps_an_erased_value(runs):
    assert runs.after["bytes"] == []
    assert runs.after["decoded"] == []
    assert not list((runs.root / "spark").rglob("*__erasure_copy*")), "no erasure copy is left behind"


def test_spark_request_log_and_records_equal_duckdb(runs):
    assert runs.after["log_differences"] == []
    n_records = len(runs.person.record_ids)
    assert [row[:2] + row[3:] for row in runs.after["log"]] == [("req-1", "erasure", "erased", None, 1, n_records, True)]
    assert runs.after["record_differences"] == []
    assert runs.after["records"][0][0] == len(runs.ids_before) - n_records


def test_an_erasure_interrupted_after_its_copy_recovers_on_the_rerun(runs):
    """The build stopped with the ledger emptied by the overwrite and its complete copy beside it; the rerun
    restored the ledger from the copy before reading it, so every other record keeps its person id."""
    assert runs.interrupted["returncode"] != 0
    assert runs.interrupted["ledger_rows"] == 0
    assert runs.interrupted["copy_rows"] > 0
    assert f"{LEDGER} restored from the copy an interrupted erasure left" in runs.recovered_log
    kept = {k: v for k, v in runs.ids_before.items() if v != runs.person.person_id}
    assert kept and {k: runs.after["ids"].get(k) for k in kept} == kept


def test_the_same_request_delivered_again_changes_nothing(runs):
    assert runs.again["bytes"] == [] and runs.again["decoded"] == []
    assert runs.again["log_differences"] == []
    statuses = {row[0]: row[3] for row in runs.again["log"]}
    assert statuses == {"req-1": "erased", "req-2": "already_erased"}
    assert runs.again["record_differences"] == []
