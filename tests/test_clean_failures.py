"""Failures end in one clear line, not a traceback: a warehouse another process holds, a failed build (whose
tables are the previous build's, so no summary is printed as if current), a syncs file with a typo (the
build runs, the syncs do not, and no CRM sandbox is left running unannounced)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from datagen.sample_data import generate
from tests.conftest import PROJECT_DIR

CDP = str(Path(sys.executable).with_name("cdp"))


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SALESFORCE_", "CDP_WEBHOOK"))}
    env.update(CDP_STATE_DIR=str(tmp / "state"), CDP_DUCKDB_PATH=str(tmp / "w.duckdb"), CDP_RAW_DIR=str(tmp / "raw"),
               **extra)
    return env


def test_build_while_another_process_holds_the_warehouse_waits_then_fails_in_one_line(tmp_path):
    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time\nc = duckdb.connect({str(db)!r})\n"
                               "print('held', flush=True)\ntime.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = subprocess.run([CDP, "build"], env=env_for(tmp_path, CDP_WAREHOUSE_WAIT_S="2"), capture_output=True,
                              text=True, cwd=PROJECT_DIR, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 1
    assert f"waiting for the warehouse {db}: in use by" in proc.stdout
    assert proc.stderr.strip().splitlines() == [
        f"error: the warehouse {db} is in use by {Path(sys.executable).resolve().name} (PID {holder.pid}); "
        "waited 2 s (CDP_WAREHOUSE_WAIT_S); try again when it has finished"], proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and "IOException" not in proc.stdout + proc.stderr


def test_a_failed_build_prints_no_summary_of_the_previous_one(tmp_path):
    """The warehouse holds a previous build's counts; this build fails: they are not printed as its result."""
    generate(30, 1, tmp_path / "raw")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create table source_row_counts as select 'crm_contacts' as source_name, 99 as rows_loaded, "
                    "99 as rows_staged, 0 as rows_superseded, 0 as rows_duplicate, 0 as rows_quarantined, "
                    "0 as rows_after_as_of, 0 as emails_normalised, 0 as phones_normalised, 0 as emails_placeholder, "
                    "0 as phones_placeholder, 0 as emails_invalid, 0 as phones_invalid")
    proc = subprocess.run([CDP, "build"], env=env_for(tmp_path, CDP_AS_OF="not-a-date"), capture_output=True,
                          text=True, cwd=PROJECT_DIR, timeout=600)
    assert proc.returncode != 0
    assert "Rows per source" not in proc.stdout
    assert "dbt build failed (exit code" in proc.stdout and "no summary" in proc.stdout


def test_a_syncs_file_with_a_typo_fails_the_syncs_in_one_line_and_starts_no_sandbox(tmp_path):
    generate(150, 2, tmp_path / "raw")
    text = (PROJECT_DIR / "sync" / "syncs.yml").read_text(encoding="utf-8")
    broken = tmp_path / "syncs.yml"
    broken.write_text(text.replace("    destination: hubspot\n", "    destinaton: hubspot\n", 1), encoding="utf-8")
    proc = subprocess.run([CDP, "run"], env=env_for(tmp_path, CDP_SYNCS_FILE=str(broken)), capture_output=True,
                          text=True, cwd=PROJECT_DIR, timeout=1200)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert "Traceback" not in out
    errors = [line for line in proc.stdout.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"{broken}:" in errors[0] and "no CRM sandbox started" in errors[0], errors
    assert not (tmp_path / "state" / "sandbox.pid").exists()
    assert "CRM sandbox page" not in out
