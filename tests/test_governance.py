"""GX governance results say what was measured against which threshold (in the outcome, the Dagster check's
description and metadata, and the Data Docs page), and thresholds can be set per source. A small hand-made
warehouse of base_ tables stands in for a build: the suites read only their fate and quality columns."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import requests

from cdp.governance_suites import staging_suites
from cdp.registry import load_registry
from orchestration.governance import _description, _metadata


def base_tables(db_path: Path, valid_emails: dict[str, int]) -> None:
    """1,000 staged rows per source; `valid_emails[source]` of them with a valid email, the rest invalid."""
    with duckdb.connect(str(db_path)) as con:
        for s in load_registry().values():
            valid = valid_emails.get(s.source_name, 1000)
            columns = ["'staged' as _row_fate"]
            if "email" in s.quality:
                columns.append(f"case when i < {valid} then 'valid' else 'invalid' end as email_quality")
            if "phone" in s.quality:
                columns.append("'valid' as phone_quality")
            con.execute(f"create table {s.base} as select {', '.join(columns)} from range(1000) as t(i)")


def test_one_source_just_under_its_threshold_fails_alone_and_says_by_how_much(tmp_path, monkeypatch):
    db = tmp_path / "warehouse.duckdb"
    base_tables(db, {"crm_contacts": 898})
    monkeypatch.delenv("CDP_GX_EMAIL_VALID_RATE_MIN", raising=False)
    outcomes = staging_suites(db, docs_dir=tmp_path / "docs")
    assert {name for name, o in outcomes.items() if not o.success} == {"crm_contacts"}
    crm = outcomes["crm_contacts"]
    assert crm.failures() == "email_valid_rate 0.898 < 0.90"
    assert _description(crm) == "1 expectation(s) failed: email_valid_rate 0.898 < 0.90"
    metadata = _metadata(crm)
    assert metadata["observed_email_valid_rate"] == "0.898 < 0.90"
    assert "| email_valid_rate | FAIL | 0.898 < 0.90 |" in metadata["gx_results"].value
    page = (tmp_path / "docs" / "staging_crm_contacts.html").read_text(encoding="utf-8")
    assert "0.898" in page  # GX's own page shows the observed value

    # the same threshold lowered for that source only: it passes, the others keep 0.90
    monkeypatch.setenv("CDP_GX_EMAIL_VALID_RATE_MIN__CRM_CONTACTS", "0.85")
    outcomes = staging_suites(db)
    assert all(o.success for o in outcomes.values())
    assert [o.comparison for o in outcomes["crm_contacts"].outcomes if o.column == "email_valid_rate"] == [
        "0.898 >= 0.85"]
    base_tables(tmp_path / "other.duckdb", {"shop_customers": 898})
    assert not staging_suites(tmp_path / "other.duckdb")["shop_customers"].success


@pytest.mark.parametrize("value, expected", [(0.9, "0.90"), (0.898, "0.898"), (500, "500"), (0.05, "0.05")])
def test_numbers_read_as_configured(value, expected):
    from cdp.governance_suites import number

    assert number(value) == expected


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_data_docs_work_offline_and_are_served_over_http(tmp_path, monkeypatch):
    """No stylesheet or script from a CDN in the page; the check links it at an http address on loopback,
    where `cdp docs --gx` serves it, and Chromium renders it from there with the measured value."""
    state = tmp_path / "state"
    db = tmp_path / "warehouse.duckdb"
    base_tables(db, {"crm_contacts": 898})
    port = free_port()
    monkeypatch.setenv("CDP_GX_DOCS_PORT", str(port))
    crm = staging_suites(db, docs_dir=state / "gx_docs")["crm_contacts"]
    html = crm.docs[0].read_text(encoding="utf-8")
    assert "Great Expectations" in html and "<style>" in html
    assert re.findall(r"<(?:link|script)\b[^>]*(?:href|src)=[\"']?(?:https?:)?//[^>]*>", html) == []
    link = _metadata(crm)["gx_data_docs_staging_crm_contacts"].value
    assert link == f"http://127.0.0.1:{port}/staging_crm_contacts.html"

    env = dict(os.environ, CDP_STATE_DIR=str(state), CDP_GX_DOCS_PORT=str(port))
    server = subprocess.Popen([str(Path(sys.executable).with_name("cdp")), "docs", "--gx"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(link, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "cdp docs --gx did not serve"
            time.sleep(0.3)
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        assert chromium, "chromium is installed by `make chromium` (Debian package chromium)"
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}"]
        dom = subprocess.run([chromium, *flags, "--dump-dom", link], capture_output=True, text=True, timeout=120).stdout
        assert "email_valid_rate" in dom and "0.898" in dom
    finally:
        server.terminate()
        server.wait(10)
