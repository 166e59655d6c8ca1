"""GX governance results say what was measured against which threshold (in the outcome, the Dagster check's
description and metadata, and the Data Docs page), and thresholds can be set per source. A small hand-made
warehouse of base_ tables stands in for a build: the suites read only their fate and quality columns."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

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
