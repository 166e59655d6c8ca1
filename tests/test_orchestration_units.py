"""Fast tests of the small pure pieces of the runner and the code location (no dbt, no Dagster run)."""

from __future__ import annotations

import io
import logging

import pytest

from cdp.progress import ProgressHandler, step_label
from orchestration.report_assets import crm_sandbox_page


@pytest.mark.parametrize(("url", "page"), [
    ("http://127.0.0.1:4321", "http://127.0.0.1:4321/"),
    ("http://127.0.0.1:4321/api?token=x", None),  # never a URL that may carry a secret
    ("https://api.hubapi.com", None),
    ("", None),
])
def test_the_sandbox_page_is_linked_only_for_the_local_sandbox(monkeypatch, url, page):
    monkeypatch.setenv("HUBSPOT_BASE_URL", url)
    assert crm_sandbox_page() == page


def test_step_labels_name_the_stage():
    assert step_label("cdp_dbt_staging").startswith("dbt build: seeds and staging")
    assert step_label("gx_staging_quality") == "governance check gx_staging_quality"
    assert step_label("customer_profiles_gx_profile_quality") == "governance check gx_profile_quality"
    assert step_label("sync_hubspot_contacts") == "sync hubspot_contacts"


def test_progress_prints_warnings_but_not_plain_info_lines():
    out = io.StringIO()
    handler = ProgressHandler({}, out)
    logger = logging.getLogger("test.progress")
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.DEBUG)
    logger.info("dbt said something")
    logger.warning("3 records failed\nsecond line")
    assert out.getvalue().count("\n") == 1 and "warning: 3 records failed" in out.getvalue()


def test_syncs_that_succeed_one_after_another_share_one_line():
    from types import SimpleNamespace

    out = io.StringIO()
    handler = ProgressHandler({}, out)

    def event(kind: str, step: str | None = None) -> None:
        record = logging.LogRecord("t", logging.DEBUG, "", 0, "", None, None)
        record.dagster_meta = {"dagster_event": SimpleNamespace(event_type_value=kind, step_key=step,
                                                                step_failure_data=None, asset_key=None)}
        handler.emit(record)

    for step in ("sync_a", "sync_b", "sync_c"):
        event("STEP_START", step)
        event("STEP_SUCCESS" if step != "sync_c" else "STEP_FAILURE", step)
    event("STEP_START", "sync_d")
    event("STEP_SUCCESS", "sync_d")
    assert out.getvalue().count("\n") == 2, "sync d waits for the run's end"
    event("PIPELINE_SUCCESS")
    lines = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines[0].startswith("done   sync a (") and ", b (" in lines[0]
    assert lines[1] == "FAILED sync c: " and lines[2].startswith("done   sync d (")
