"""Great Expectations (GX Core 1.x) governance suites, validated on DataFrames read from DuckDB in
read-only mode (GX's SQL datasource returns empty results on DuckDB). Results keep counts only: no
failing values (PII) are stored or shown. Dagster-free, so it is testable on its own."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd



@dataclass(frozen=True)
class Thresholds:
    """Thresholds an operator may tune through the environment (read when a suite runs)."""

    email_valid_rate_min: float
    phone_valid_rate_min: float
    quarantine_share_max: float
    person_records_max: int

    @classmethod
    def from_env(cls) -> Thresholds:
        return cls(email_valid_rate_min=float(os.environ.get("CDP_GX_EMAIL_VALID_RATE_MIN", "0.90")),
                   phone_valid_rate_min=float(os.environ.get("CDP_GX_PHONE_VALID_RATE_MIN", "0.75")),
                   quarantine_share_max=float(os.environ.get("CDP_GX_QUARANTINE_SHARE_MAX", "0.05")),
                   person_records_max=int(os.environ.get("CDP_GX_PERSON_RECORDS_MAX", "500")))


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str
    success: bool
    element_count: int | None
    unexpected_count: int | None


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    success: bool
    outcomes: list[ExpectationOutcome]
    row_counts: dict[str, int] = field(default_factory=dict)  # rows loaded per source, where measured
    docs: list[Path] = field(default_factory=list)  # GX Data Docs pages (HTML) of the validations

    def markdown(self) -> str:
        lines = ["| expectation | column | result | rows | unexpected |", "| --- | --- | --- | --- | --- |"]
        for o in self.outcomes:
            lines.append(f"| {o.expectation} | {o.column} | {'pass' if o.success else 'FAIL'} | "
                         f"{o.element_count if o.element_count is not None else ''} | "
                         f"{o.unexpected_count if o.unexpected_count is not None else ''} |")
        return "\n".join(lines)


def read_frame(db_path: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql).df()


def validate(name: str, frame: pd.DataFrame, expectations: list, docs_dir: Path | None = None) -> SuiteOutcome:
    """Validate a DataFrame with GX; with docs_dir, also write the validation as a GX Data Docs page
    (`<docs_dir>/<name>.html`), with counts only: unexpected values (which may be personal data) are
    removed before rendering."""
    if "GX_ANALYTICS_ENABLED" not in os.environ:
        os.environ["GX_ANALYTICS_ENABLED"] = "false"  # no usage statistics leave the machine
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    # no "Calculating Metrics" bars in a run's output: the summary reports the outcome
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = ctx.data_sources.add_pandas(f"cdp_{name}").add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
    suite = gx.ExpectationSuite(name=name)
    for e in expectations:
        suite.add_expectation(e)
    result = batch.validate(suite, result_format="SUMMARY")
    outcomes = [ExpectationOutcome(
        r.expectation_config.type, str(r.expectation_config.kwargs.get("column", "")), bool(r.success),
        r.result.get("element_count"), r.result.get("unexpected_count")) for r in result.results]
    docs = [write_data_docs(result, docs_dir / f"{name}.html")] if docs_dir is not None else []
    return SuiteOutcome(name, bool(result.success), outcomes, docs=docs)


def write_data_docs(result, path: Path) -> Path:
    """A GX Data Docs validation page for one result, rendered by GX's own renderer and page view."""
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    for r in result.results:
        for key in ("partial_unexpected_list", "partial_unexpected_counts", "partial_unexpected_index_list",
                    "unexpected_list", "unexpected_index_list"):
            r.result.pop(key, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result)), encoding="utf-8")
    return path


STAGING_SQL = """
    select source_name,
           rows_quarantined * 1.0 / nullif(rows_loaded, 0) as quarantine_share,
           emails_normalised * 1.0 / nullif(emails_normalised + emails_invalid, 0) as email_valid_rate,
           case when phones_normalised + phones_invalid > 0
                then phones_normalised * 1.0 / (phones_normalised + phones_invalid) end as phone_valid_rate,
           rows_loaded
    from (
        {unions}
    ) as counts
"""


def staging_suites(db_path: Path, previous_rows: dict[str, int] | None = None, project_dir: Path | None = None,
                   docs_dir: Path | None = None) -> dict[str, SuiteOutcome]:
    """Per source of the registry: email validity, phone E.164 rate, quarantine share, rows within bounds
    of the previous run. Computed from the base_ models, so it can run as soon as staging is built; each
    outcome is the check result of that source's base_ model."""
    import great_expectations as gx

    from cdp.registry import load_registry

    registry = load_registry(project_dir) if project_dir else load_registry()
    unions = " union all ".join(
        f"select '{s.source_name}' as source_name, count(*) as rows_loaded, "
        f"sum(case when _row_fate = 'quarantined' then 1 else 0 end) as rows_quarantined, "
        + ("sum(case when email_quality = 'valid' then 1 else 0 end) as emails_normalised, "
           "sum(case when email_quality = 'invalid' then 1 else 0 end) as emails_invalid, "
           if "email" in s.quality else "0 as emails_normalised, 0 as emails_invalid, ")
        + ("sum(case when phone_quality = 'valid' then 1 else 0 end) as phones_normalised, "
           "sum(case when phone_quality = 'invalid' then 1 else 0 end) as phones_invalid "
           if "phone" in s.quality else "0 as phones_normalised, 0 as phones_invalid ")
        + f"from {s.base}" for s in registry.values())
    frame = read_frame(db_path, STAGING_SQL.format(unions=unions))
    limits = Thresholds.from_env()
    outcomes = {}
    for source_name in registry:
        rows = frame[frame["source_name"] == source_name].reset_index(drop=True)
        expectations = [
            gx.expectations.ExpectColumnValuesToBeBetween(column="email_valid_rate", min_value=limits.email_valid_rate_min),
            gx.expectations.ExpectColumnValuesToBeBetween(column="phone_valid_rate", min_value=limits.phone_valid_rate_min),
            gx.expectations.ExpectColumnValuesToBeBetween(column="quarantine_share", max_value=limits.quarantine_share_max),
        ]
        if registry[source_name].optional:  # privacy requests: a few rows; bad ones show in privacy_request_log
            expectations = expectations[:2]
        elif previous_rows and source_name in previous_rows:
            rows["row_change"] = rows["rows_loaded"] / previous_rows[source_name]
            # a source may grow, but not shrink by half or explode tenfold between runs
            expectations.append(gx.expectations.ExpectColumnValuesToBeBetween(
                column="row_change", min_value=0.5, max_value=10))
        outcome = validate(f"staging_{source_name}", rows, expectations, docs_dir)
        outcomes[source_name] = SuiteOutcome(outcome.suite, outcome.success, outcome.outcomes,
                                             {source_name: int(rows["rows_loaded"].iloc[0])}, outcome.docs)
    return outcomes


def staging_suite(db_path: Path, previous_rows: dict[str, int] | None = None, project_dir: Path | None = None,
                  docs_dir: Path | None = None) -> SuiteOutcome:
    """All sources' staging validations as one outcome."""
    parts = staging_suites(db_path, previous_rows, project_dir, docs_dir)
    return SuiteOutcome("staging", all(p.success for p in parts.values()),
                        [o for p in parts.values() for o in p.outcomes],
                        {k: v for p in parts.values() for k, v in p.row_counts.items()},
                        [d for p in parts.values() for d in p.docs])


def identity_suite(db_path: Path, docs_dir: Path | None = None) -> SuiteOutcome:
    import great_expectations as gx

    frame = read_frame(db_path, """
        select p.person_id, p.record_count,
               (select count(*) from person_records r where r.person_id = p.person_id) as mapped
        from customer_profiles p""")
    records = read_frame(db_path, "select source_name || '|' || source_record_id as record from person_records")
    outcome = validate("identity", frame, docs_dir=docs_dir, expectations=[
        gx.expectations.ExpectColumnValuesToBeBetween(column="record_count",
                                                      max_value=Thresholds.from_env().person_records_max),
        gx.expectations.ExpectColumnValuesToBeBetween(column="mapped", min_value=1),
    ])
    mapped_once = validate("identity_records", records, [gx.expectations.ExpectColumnValuesToBeUnique(column="record")],
                           docs_dir)
    return SuiteOutcome("identity", outcome.success and mapped_once.success, outcome.outcomes + mapped_once.outcomes,
                        docs=outcome.docs + mapped_once.docs)


def profiles_suite(db_path: Path, docs_dir: Path | None = None) -> SuiteOutcome:
    import great_expectations as gx

    frame = read_frame(db_path, "select person_id, lifetime_value, order_count, email_consent from customer_profiles")
    marketing = read_frame(db_path, "select person_id, email_consent from sync_webhook__marketing_contacts")
    profiles = validate("profiles", frame, docs_dir=docs_dir, expectations=[
        gx.expectations.ExpectColumnValuesToBeUnique(column="person_id"),
        gx.expectations.ExpectColumnValuesToNotBeNull(column="person_id"),
        gx.expectations.ExpectColumnValuesToBeBetween(column="lifetime_value", min_value=0),
        gx.expectations.ExpectColumnValuesToBeInSet(column="email_consent",
                                                    value_set=["subscribed", "unsubscribed", "unknown"]),
    ])
    opted_out = validate("marketing_input", marketing, [
        gx.expectations.ExpectColumnValuesToNotBeInSet(column="email_consent", value_set=["unsubscribed"]),
    ], docs_dir)
    return SuiteOutcome("profiles", profiles.success and opted_out.success, profiles.outcomes + opted_out.outcomes,
                        docs=profiles.docs + opted_out.docs)
