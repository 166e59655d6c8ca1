"""The Dagster code location: it loads, its asset graph is what review expects, it runs end to end with
readable output into the project's Dagster instance (which `cdp ui` then shows), a failing blocking
governance check stops the syncs, a real webserver serves it over GraphQL, and `cdp ui` ends every process
it started on SIGTERM and on Ctrl-C."""

from __future__ import annotations

import csv
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import requests

from cdp.privacy_cli import append_request
from cdp.ui import _is_zombie, descendants
from datagen.sample_data import generate
from sync.sandbox import start_sandbox
from tests.conftest import PROJECT_DIR, shop_customer_with_web_events

BIN = Path(sys.executable).parent
SNAPSHOT = Path(__file__).with_name("snapshots") / "asset_graph.txt"


def env_for(tmp: Path, **extra) -> dict[str, str]:
    return dict(os.environ, CDP_RAW_DIR=str(tmp / "raw"), CDP_DUCKDB_PATH=str(tmp / "w.duckdb"),
                CDP_STATE_DIR=str(tmp / "state"), DAGSTER_HOME=str(tmp / "dagster"), **extra)


def graph_snapshot() -> str:
    code = ("from orchestration.definitions import defs\n"
            "g = defs().resolve_asset_graph()\n"
            "keys = sorted('asset ' + k.to_user_string() + ' [' + (g.get(k).group_name or '') + ']' "
            "for k in g.materializable_asset_keys)\n"
            "checks = sorted('check ' + c.asset_key.to_user_string() + ':' + c.name for c in g.asset_check_keys)\n"
            "print('\\n'.join(keys + checks))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=PROJECT_DIR).stdout


def test_definitions_validate():
    proc = subprocess.run([str(BIN / "dagster"), "definitions", "validate", "-m", "orchestration.definitions"],
                          capture_output=True, text=True, cwd=PROJECT_DIR)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Validation successful" in proc.stderr + proc.stdout


def test_asset_graph_matches_snapshot():
    """Changes to the asset graph show in review. Regenerate after a change (or a merge) with
    `CDP_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest -q tests/test_orchestration.py -k snapshot`."""
    current = graph_snapshot()
    if os.environ.get("CDP_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(current)
    assert current == SNAPSHOT.read_text()
    docs = subprocess.run([sys.executable, "-c", "import dagster as dg\nfrom orchestration.definitions import defs\n"
                           "print(defs().resolve_asset_graph().get(dg.AssetKey(['customer_profiles'])).metadata['dbt_docs'].value)"],
                          capture_output=True, text=True, check=True, cwd=PROJECT_DIR).stdout.strip()
    assert docs == (PROJECT_DIR / "target" / "index.html").as_uri() + "#!/model/model.cdp.customer_profiles"
    for expected in ("asset customer_profiles [profiles]", "asset sync_hubspot_contacts [crm_syncs]",
                     "check customer_profiles:gx_profile_quality", "check base_crm__contacts:gx_staging_quality",
                     "check base_email__consents:gx_staging_quality",
                     "check person_records:gx_identity_quality"):
        assert expected in current


def run_pipeline(tmp: Path, sandbox) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "cdp"), "run"], env=env_for(tmp, **sandbox.client_env()), capture_output=True,
                          text=True, cwd=PROJECT_DIR, timeout=900)


def test_whole_graph_materialises_in_process_and_syncs(tmp_path: Path):
    """`cdp run` prints stages, checks and the summary only (no dbt lines, no GX progress bars, no Dagster
    DEBUG events), and records the run in the project's Dagster instance, where `cdp ui` shows it."""
    generate(800, 5, tmp_path / "raw")
    # the new warehouse's files ask for an erasure: the staging step builds the identity graph first, so the
    # request also reaches the customer's web events, which carry only the shop id
    customer, email = shop_customer_with_web_events(tmp_path / "raw")
    append_request(tmp_path / "raw", "erasure", email, None, "first-erasure", datetime(2025, 6, 1, tzinfo=UTC))
    sandbox = start_sandbox()
    try:
        proc = run_pipeline(tmp_path, sandbox)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
            assert con.execute("select status, persons_matched from privacy_request_log").fetchall() == [("erased", 1)]
            assert con.execute("select count(*) from base_web__events where user_id = ?", [customer]).fetchone() == (0,)
        out = proc.stdout + proc.stderr
        for check in ("gx_staging_quality", "gx_identity_quality", "gx_profile_quality", "gx_privacy"):
            assert f"{check}" in proc.stdout
        assert len(out.splitlines()) < 70, out  # one line per step, check and source
        # the summary's tables fit a terminal (progress lines and the lines naming paths may be longer)
        tables = proc.stdout[proc.stdout.index("\nRows per source"):proc.stdout.index("\nGovernance checks")]
        assert max(map(len, tables.splitlines())) <= 100, tables
        for noise in ("Calculating Metrics", "DEBUG", "STEP_START", "of 15", "Running with dbt"):
            assert noise not in out
        assert "start  dbt build" in out and re.search(r"done   sync .*hubspot_contacts \(", out)
        run_id = proc.stdout.split("\nrun ")[1].split()[0]
        # the summary carries churn risk and predicted CLV; the backtest asset wrote its report
        assert "churn_mean" in proc.stdout and "clv_total" in proc.stdout
        assert "AUC" in (tmp_path / "state" / "backtest" / "backtest.md").read_text()
        stats = sandbox.stats()
        # the marketing webhook gets only addresses whose own latest consent is subscribed (consent per address)
        assert stats["hubspot_contacts"] > 300 and stats["salesforce_contacts"] > 300 and stats["webhook_contacts"] > 100
    finally:
        sandbox.stop()
    assert (tmp_path / "state" / "dagster" / "dagster.yaml").exists()
    assert_run_recorded_with_metadata(tmp_path / "state", run_id)
    # the UI on the same state folder lists that run; no CRM credentials here, so it starts its own sandbox
    env = {k: v for k, v in env_for(tmp_path).items() if not k.startswith(("HUBSPOT_", "SALESFORCE_", "CDP_WEBHOOK"))}
    with running_ui(env) as (url, _ui):
        body = requests.post(f"{url}/graphql", json={"query": RUNS_QUERY}, timeout=30).json()
        runs = {r["runId"]: r["status"] for r in body["data"]["runsOrError"]["results"]}
        assert runs.get(run_id) == "SUCCESS", runs


def assert_run_recorded_with_metadata(state: Path, run_id: str) -> None:
    """dbt assets carry row counts and column schemas; each GX check links its Data Docs page."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(state / "dagster"))
    try:
        event = instance.get_latest_materialization_event(dg.AssetKey(["customer_profiles"]))
        metadata = event.asset_materialization.metadata
        assert metadata["dagster/row_count"].value > 300
        columns = [c.name for c in metadata["dagster/column_schema"].value.columns]
        assert columns[0] == "person_id" and "lifetime_value" in columns
        checks = [e.dagster_event.event_specific_data for e in instance.all_logs(
            run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
        gx = {(c.asset_key.path[-1], c.check_name): c for c in checks if c.check_name.startswith("gx_")}
        assert ("base_email__consents", "gx_staging_quality") in gx and ("person_records", "gx_identity_quality") in gx
        for check in gx.values():
            links = [v.value for k, v in check.metadata.items() if k.startswith("gx_data_docs_")]
            assert links, check.check_name
            for link in links:  # over http (cdp ui serves the folder), not file://, which the UI cannot open
                assert link.startswith("http://127.0.0.1:"), link
                page = state / "gx_docs" / link.rsplit("/", 1)[1]
                assert "Great Expectations" in page.read_text()
    finally:
        instance.dispose()


RUNS_QUERY = "{ runsOrError { ... on Runs { results { runId status } } } }"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not _is_zombie(pid)


class running_ui:
    """`cdp ui` on a free loopback port; on exit it is stopped with `stop_signal` and every process it
    started (webserver, daemon, code server, CRM sandbox) must be gone."""

    def __init__(self, env: dict[str, str], stop_signal: int = signal.SIGTERM) -> None:
        self.env, self.stop_signal, self.port = env, stop_signal, free_port()

    def __enter__(self):
        self.proc = subprocess.Popen([str(BIN / "cdp"), "ui", "--port", str(self.port)], env=self.env, cwd=PROJECT_DIR,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert self.proc.poll() is None, "cdp ui exited"
            assert time.monotonic() < deadline, "the UI did not start"
            time.sleep(0.5)
        return url, self.proc

    def __exit__(self, *exc) -> None:
        started = descendants(self.proc.pid)
        try:
            assert len(started) >= 3, started  # dagster dev, webserver, daemon (and code server, sandbox)
            self.proc.send_signal(self.stop_signal)
            assert self.proc.wait(90) is not None
            deadline = time.monotonic() + 10
            while any(alive(p) for p in started) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert [p for p in started if alive(p)] == []
            assert not (Path(self.env["CDP_STATE_DIR"]) / "sandbox.pid").exists()
        finally:
            for pid in started:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


def test_cdp_ui_ends_everything_it_started_on_ctrl_c(tmp_path: Path):
    generate(200, 3, tmp_path / "raw")
    env = {k: v for k, v in env_for(tmp_path).items() if not k.startswith(("HUBSPOT_", "SALESFORCE_", "CDP_WEBHOOK"))}
    with running_ui(env, stop_signal=signal.SIGINT) as (url, _ui):
        assert requests.get(f"{url}/server_info", timeout=5).ok
        assert (tmp_path / "state" / "sandbox.pid").exists()  # it started a CRM sandbox, which must end too


def test_failing_blocking_check_stops_the_syncs(tmp_path: Path):
    """A planted bad batch: half the emails garbled. The staging GX check fails and no sync runs."""
    raw = tmp_path / "raw"
    generate(800, 6, raw)
    garble_emails(raw)
    sandbox = start_sandbox()
    try:
        proc = run_pipeline(tmp_path, sandbox)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 1, out[-3000:]
        # the failed check's line shows the measured rate against its threshold
        assert re.search(r"^base_crm__contacts +gx_staging_quality +FAIL +email_valid_rate 0\.\d+ < 0\.90",
                         proc.stdout, re.MULTILINE), proc.stdout
        assert len(out.splitlines()) < 60, out
        assert "failed steps: gx_staging_quality" in proc.stdout
        not_run = proc.stdout.split("syncs not run (a blocking check or an upstream step failed):")[1]
        for sync in ("sync_hubspot_contacts", "sync_salesforce_contacts", "sync_marketing_webhook"):
            assert sync in not_run.splitlines()[0]
        stats = sandbox.stats()
        assert stats["hubspot_contacts"] == stats["salesforce_contacts"] == stats["webhook_contacts"] == 0
    finally:
        sandbox.stop()


def garble_emails(raw: Path) -> None:
    """Half the CRM and shop emails garbled: the staging GX check (email-valid rate) fails."""
    for name, column in (("crm_contacts", "email"), ("shop_customers", "email")):
        path = raw / f"{name}.csv"
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for i, row in enumerate(rows):
            if i % 2 == 0:
                row[column] = row[column].replace("@", "#at#")
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def test_erasure_reaches_the_warehouse_and_every_crm_when_a_blocking_check_fails(tmp_path: Path):
    """A run that syncs everyone, then a bad batch that fails the staging check together with an erasure
    request: the syncs are held back, but the person leaves every warehouse table and every CRM."""
    raw = tmp_path / "raw"
    generate(300, 7, raw)
    sandbox = start_sandbox()
    try:
        assert run_pipeline(tmp_path, sandbox).returncode == 0
        db = tmp_path / "w.duckdb"
        with duckdb.connect(str(db), read_only=True) as con:
            pid, email = con.execute("select h.person_id, h.email from sync_hubspot__contacts h join "
                                     "sync_salesforce__contacts s using (person_id) join sync_webhook__marketing_contacts "
                                     "using (person_id) where h.email is not null order by 1 limit 1").fetchone()
        hubspot = requests.get(f"{sandbox.url}/_sandbox/hubspot", timeout=10).json()["contacts"]
        assert [c for c in hubspot.values() if c["properties"].get("email") == email]
        garble_emails(raw)
        append_request(raw, "erasure", email, None, "erase-while-blocked")
        proc = run_pipeline(tmp_path, sandbox)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 1 and "failed steps: gx_staging_quality" in proc.stdout, out[-3000:]
        assert "privacy-only sync hubspot_contacts: success, 1 deleted" in proc.stdout, out[-3000:]
        hubspot = requests.get(f"{sandbox.url}/_sandbox/hubspot", timeout=10).json()["contacts"]
        assert not [c for c in hubspot.values() if c["properties"].get("email") == email]
        salesforce = requests.get(f"{sandbox.url}/_sandbox/salesforce", timeout=10).json()["records"]
        assert not [r for r in salesforce.values() if r.get("CDP_Person_Id__c") == pid]
        webhook = requests.get(f"{sandbox.url}/_sandbox/webhook", timeout=10).json()
        assert pid not in webhook["records"] and pid in webhook["deleted"]
        assert sandbox.stats()["hubspot_gdpr_deletes"] == 1
        with duckdb.connect(str(db), read_only=True) as con:
            hits = []
            for table, column in con.execute("select table_name, column_name from duckdb_columns() where "
                                             "schema_name = 'main' and data_type = 'VARCHAR'").fetchall():
                n = con.execute(f'select count(*) from main."{table}" where "{column}" = ? or contains("{column}", ?)',
                                [pid, email]).fetchone()[0]
                if n:
                    hits.append((table, column, n))
            assert hits == []
            assert con.execute("select status from privacy_request_log").fetchall() == [("erased",)]
    finally:
        sandbox.stop()


def test_a_failed_pipeline_run_starts_the_privacy_job():
    """Runs launched from the UI or the schedule: the failure sensor requests the privacy_requests job (the
    same steps `cdp run` applies after a failed run), once per failed run."""
    import dagster as dg

    from orchestration.governance import privacy_after_failed_run

    @dg.op
    def planted_failure():
        raise RuntimeError("a failing model")

    @dg.job(name="full_pipeline")
    def failing():
        planted_failure()

    instance = dg.DagsterInstance.ephemeral()
    result = failing.execute_in_process(instance=instance, raise_on_error=False)
    context = dg.build_run_status_sensor_context(
        sensor_name="privacy_after_failed_run", dagster_event=result.get_run_failure_event(),
        dagster_instance=instance, dagster_run=result.dagster_run).for_run_failure()
    request = privacy_after_failed_run(context)
    assert request.run_key == f"privacy-after-{result.run_id}"
    assert privacy_after_failed_run.job_name == "privacy_requests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webserver_serves_asset_nodes_and_checks_over_graphql(tmp_path: Path):
    port = free_port()
    (tmp_path / "dagster").mkdir()
    proc = subprocess.Popen([str(BIN / "dagster-webserver"), "-m", "orchestration.definitions", "-h", "127.0.0.1",
                             "-p", str(port)], env=env_for(tmp_path), cwd=PROJECT_DIR,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "webserver did not start"
            time.sleep(0.5)
        query = """{ assetNodes { assetKey { path } groupName
                     assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }"""
        deadline = time.monotonic() + 60
        while True:
            body = requests.post(f"{url}/graphql", json={"query": query}, timeout=30).json()
            nodes = (body.get("data") or {}).get("assetNodes") or []
            if nodes or time.monotonic() > deadline:
                break
            time.sleep(1)
        by_name = {n["assetKey"]["path"][-1]: n for n in nodes}
        assert {"customer_profiles", "person_records", "identity_graph", "sync_hubspot_contacts",
                "sync_salesforce_contacts", "sync_marketing_webhook", "stg_crm__contacts"} <= set(by_name)
        assert by_name["sync_hubspot_contacts"]["groupName"] == "crm_syncs"
        checks = {c["name"]: c["blocking"] for c in by_name["customer_profiles"]["assetChecksOrError"]["checks"]}
        assert checks.get("gx_profile_quality") is True
        assert any(name.startswith("unique_customer_profiles") for name in checks), "dbt tests are asset checks"
    finally:
        proc.terminate()
        proc.wait(10)
