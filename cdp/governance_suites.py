"""Great Expectations (GX Core 1.x) governance suites, validated on DataFrames read from the warehouse: a
DuckDB file in read-only mode (GX's SQL datasource returns empty results on DuckDB), or on the Spark target
a `SparkWarehouse` (sync/spark_reader.py: one short Spark session per suite, the same SQL). Results keep
counts only: no failing values (PII) are stored or shown. Dagster-free, so it is testable on its own."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from sync.spark_reader import SparkWarehouse

# where a suite reads: the DuckDB file, or the Spark warehouse
Source = Path | SparkWarehouse

@dataclass(frozen=True)
class Thresholds:
    """Thresholds an operator may tune through the environment (read when a suite runs): CDP_GX_<NAME> for
    every source, CDP_GX_<NAME>__<SOURCE> for one (CDP_GX_EMAIL_VALID_RATE_MIN__SHOP_ORDERS=0.85)."""

    email_valid_rate_min: float
    phone_valid_rate_min: float
    quarantine_share_max: float
    person_records_max: int

    @classmethod
    def from_env(cls, source: str | None = None) -> Thresholds:
        def get(name: str, default: str) -> str:
            scoped = f"CDP_GX_{name}__{source.upper()}" if source else None
            return os.environ.get(scoped or "", "") or os.environ.get(f"CDP_GX_{name}", default)

        return cls(email_valid_rate_min=float(get("EMAIL_VALID_RATE_MIN", "0.90")),
                   phone_valid_rate_min=float(get("PHONE_VALID_RATE_MIN", "0.75")),
                   quarantine_share_max=float(get("QUARANTINE_SHARE_MAX", "0.05")),
                   person_records_max=int(get("PERSON_RECORDS_MAX", "500")))


def number(value: object) -> str:
    """A measured value or threshold as people read it: 0.898, 0.90, 500."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}" if round(value, 2) == value else f"{value:.3f}"
    return str(int(value)) if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    observed: object = None        # the measured value (minimum or maximum of the column), where one is measured
    minimum: float | None = None   # the expectation's bounds
    maximum: float | None = None

    @property
    def comparison(self) -> str:
        """The measured value against the threshold it broke or kept: `0.898 < 0.90`, `12 <= 500`."""
        if self.observed is None or (self.minimum is None and self.maximum is None):
            return ""
        value = number(self.observed)
        if self.minimum is not None and self.observed < self.minimum:
            return f"{value} < {number(self.minimum)}"
        if self.maximum is not None and self.observed > self.maximum:
            return f"{value} > {number(self.maximum)}"
        if self.minimum is not None:
            return f"{value} >= {number(self.minimum)}"
        return f"{value} <= {number(self.maximum)}"


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    success: bool
    outcomes: list[ExpectationOutcome]
    row_counts: dict[str, int] = field(default_factory=dict)  # rows loaded per source, where measured
    docs: list[Path] = field(default_factory=list)  # GX Data Docs pages (HTML) of the validations

    def markdown(self) -> str:
        lines = ["| expectation | column | result | observed vs threshold | rows | unexpected |",
                 "| --- | --- | --- | --- | --- | --- |"]
        for o in self.outcomes:
            lines.append(f"| {o.expectation} | {o.column} | {'pass' if o.success else 'FAIL'} | {o.comparison} | "
                         f"{o.element_count if o.element_count is not None else ''} | "
                         f"{o.unexpected_count if o.unexpected_count is not None else ''} |")
        return "\n".join(lines)

    def failures(self) -> str:
        """The failed expectations in one line: `email_valid_rate 0.898 < 0.90; ...`."""
        return "; ".join(f"{o.column or o.expectation} {o.comparison or 'failed'}".strip()
                         for o in self.outcomes if not o.success)


def read_frames(source: Source, queries: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Each query's result, read in one go (on Spark: one session for all of them)."""
    if isinstance(source, SparkWarehouse):
        return source.frames(queries)
    with duckdb.connect(str(source), read_only=True) as con:
        return {name: con.execute(sql).df() for name, sql in queries.items()}


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
    for r in result.results:  # numpy scalars as Python numbers: GX's Data Docs renderer refuses numpy's
        if hasattr(r.result.get("observed_value"), "item"):
            r.result["observed_value"] = r.result["observed_value"].item()
    outcomes = [ExpectationOutcome(
        r.expectation_config.type, str(r.expectation_config.kwargs.get("column", "")), bool(r.success),
        r.result.get("element_count"), r.result.get("unexpected_count"), r.result.get("observed_value"),
        r.expectation_config.kwargs.get("min_value"), r.expectation_config.kwargs.get("max_value"))
        for r in result.results]
    docs = [write_data_docs(result, docs_dir / f"{name}.html")] if docs_dir is not None else []
    return SuiteOutcome(name, bool(result.success), outcomes, docs=docs)


def write_data_docs(result, path: Path) -> Path:
    """A GX Data Docs validation page for one result, rendered by GX's own renderer and page view, made to
    work offline (offline_page)."""
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    for r in result.results:
        for key in ("partial_unexpected_list", "partial_unexpected_counts", "partial_unexpected_index_list",
                    "unexpected_list", "unexpected_index_list"):
            r.result.pop(key, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result))
    path.write_text(offline_page(page), encoding="utf-8")
    return path


# GX's page loads Bootstrap, jQuery, Vega and Font Awesome from CDNs: offline (and on a machine that must not
# call out) it renders unstyled and makes requests to third parties. The validation page needs none of their
# scripts (no charts, tables are static), so they are dropped and a small stylesheet (GX's own default
# styles, which it ships, and a few rules in Bootstrap's place) is inlined instead.
EXTERNAL_TAG = re.compile(r"<link\b[^>]*\bhref=[\"'](?:https?:)?//[^>]*>|<link\b[^>]*favicon[^>]*>|"
                          r"<script\b[^>]*\bsrc=[\"'](?:https?:)?//[^>]*>\s*</script>", re.IGNORECASE)
BASE_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 1rem 2rem; color: #212529; }
table { border-collapse: collapse; margin: 0.5rem 0; } td, th { border: 1px solid #dee2e6; padding: 0.3rem 0.6rem; }
.collapse:not(.show) { display: block; } .badge { padding: 0.1rem 0.4rem; border-radius: 0.25rem; background: #e9ecef; }
.container-fluid, .row, .col-12 { display: block; width: 100%; } .d-none { display: none; }
"""


def offline_page(html: str) -> str:
    """GX's page without CDN stylesheets and scripts, with the inlined stylesheet."""
    import great_expectations

    styles = Path(great_expectations.__file__).parent / "render/view/static/styles/data_docs_default_styles.css"
    css = BASE_STYLE + (styles.read_text(encoding="utf-8") if styles.exists() else "")
    html = EXTERNAL_TAG.sub("", html)
    return html.replace("</head>", f"<style>{css}</style>\n</head>", 1)


def bounded(frame: pd.DataFrame, column: str, minimum: float | None = None, maximum: float | None = None) -> list:
    """An expectation on the column's smallest (with a minimum) or largest value, which GX records as the
    observed value (shown in results and Data Docs); none when the column holds no value (nothing measured:
    a source without phones has no phone rate)."""
    import great_expectations as gx

    if column not in frame or not frame[column].notna().any():
        return []
    kind = gx.expectations.ExpectColumnMinToBeBetween if minimum is not None else gx.expectations.ExpectColumnMaxToBeBetween
    return [kind(column=column, min_value=minimum, max_value=maximum)]


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


def staging_suites(source: Source, previous_rows: dict[str, int] | None = None, project_dir: Path | None = None,
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
    frame = read_frames(source, {"staging": STAGING_SQL.format(unions=unions)})["staging"]
    outcomes = {}
    for source_name in registry:
        limits = Thresholds.from_env(source_name)
        rows = frame[frame["source_name"] == source_name].reset_index(drop=True)
        expectations = [*bounded(rows, "email_valid_rate", minimum=limits.email_valid_rate_min),
                        *bounded(rows, "phone_valid_rate", minimum=limits.phone_valid_rate_min)]
        if not registry[source_name].optional:  # privacy requests: bad ones show in privacy_request_log
            expectations += bounded(rows, "quarantine_share", maximum=limits.quarantine_share_max)
        if not registry[source_name].optional and previous_rows and source_name in previous_rows:
            rows["row_change"] = rows["rows_loaded"] / previous_rows[source_name]
            # a source may grow, but not shrink by half or explode tenfold between runs
            expectations.append(gx.expectations.ExpectColumnMinToBeBetween(
                column="row_change", min_value=0.5, max_value=10))
        outcome = validate(f"staging_{source_name}", rows, expectations, docs_dir)
        outcomes[source_name] = SuiteOutcome(outcome.suite, outcome.success, outcome.outcomes,
                                             {source_name: int(rows["rows_loaded"].iloc[0])}, outcome.docs)
    return outcomes


def staging_suite(source: Source, previous_rows: dict[str, int] | None = None, project_dir: Path | None = None,
                  docs_dir: Path | None = None) -> SuiteOutcome:
    """All sources' staging validations as one outcome."""
    parts = staging_suites(source, previous_rows, project_dir, docs_dir)
    return SuiteOutcome("staging", all(p.success for p in parts.values()),
                        [o for p in parts.values() for o in p.outcomes],
                        {k: v for p in parts.values() for k, v in p.row_counts.items()},
                        [d for p in parts.values() for d in p.docs])


def identity_suite(source: Source, docs_dir: Path | None = None) -> SuiteOutcome:
    import great_expectations as gx

    frames = read_frames(source, {"identity": """
        select p.person_id, p.record_count,
               (select count(*) from person_records r where r.person_id = p.person_id) as mapped
        from customer_profiles p""",
        "records": "select source_name || '|' || source_record_id as record from person_records"})
    frame, records = frames["identity"], frames["records"]
    outcome = validate("identity", frame, docs_dir=docs_dir, expectations=[
        *bounded(frame, "record_count", maximum=Thresholds.from_env().person_records_max),
        *bounded(frame, "mapped", minimum=1),
    ])
    mapped_once = validate("identity_records", records, [gx.expectations.ExpectColumnValuesToBeUnique(column="record")],
                           docs_dir)
    return SuiteOutcome("identity", outcome.success and mapped_once.success, outcome.outcomes + mapped_once.outcomes,
                        docs=outcome.docs + mapped_once.docs)


def profiles_suite(source: Source, docs_dir: Path | None = None) -> SuiteOutcome:
    import great_expectations as gx

    frames = read_frames(source, {
        "profiles": "select person_id, lifetime_value, order_count, email_consent from customer_profiles",
        "marketing": "select person_id, email_consent from sync_webhook__marketing_contacts"})
    frame, marketing = frames["profiles"], frames["marketing"]
    profiles = validate("profiles", frame, docs_dir=docs_dir, expectations=[
        gx.expectations.ExpectColumnValuesToBeUnique(column="person_id"),
        gx.expectations.ExpectColumnValuesToNotBeNull(column="person_id"),
        *bounded(frame, "lifetime_value", minimum=0),
        gx.expectations.ExpectColumnValuesToBeInSet(column="email_consent",
                                                    value_set=["subscribed", "unsubscribed", "unknown"]),
    ])
    opted_out = validate("marketing_input", marketing, [
        gx.expectations.ExpectColumnValuesToNotBeInSet(column="email_consent", value_set=["unsubscribed"]),
    ], docs_dir)
    return SuiteOutcome("profiles", profiles.success and opted_out.success, profiles.outcomes + opted_out.outcomes,
                        docs=profiles.docs + opted_out.docs)
