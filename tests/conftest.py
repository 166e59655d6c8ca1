"""Shared fixtures: generated raw data and real DuckDB warehouses built by real dbt runs."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from datagen.sample_data import generate
from tests.dbt_support import PROJECT_DIR, dbt  # noqa: F401 (tests import both from here)
from tests.spark_support import spark_engines  # noqa: F401 (the Spark tests' shared session fixture)


# Test tiers. `fast` (make test-fast): unit tests and checks that need no dbt run or parse, no Dagster subprocess
# and no sync run longer than a few seconds, so the tier stays under two minutes on 2 cores; every other test is
# `slow`. Tiers are set here by module and test name, so a test file carries no tier of its own; a module or test
# not listed is slow, so a new end-to-end test never lands in the fast tier by accident.
FAST_MODULES = frozenset({
    "test_cli_help",
    "test_conventions",
    "test_dbt_args",
    "test_docs",
    "test_orchestration_units",
    "test_sample_data",
    "test_spark_reader",
    "test_sync_events_units",
    "test_sync_units",
})
FAST_TESTS = {
    "test_identity": {"test_pairwise_score_counts_pairs"},
    "test_ingest_hubspot": {"test_contacts_changed_since_the_cursor_arrive_once",
                            "test_a_run_at_the_search_cap_continues_from_its_cursor",
                            "test_properties_the_platform_writes_are_not_read_back",
                            "test_a_5xx_is_retried_and_a_failing_run_keeps_its_cursor",
                            "test_the_newest_seconds_wait_for_the_next_run",
                            "test_ingest_refuses_a_single_file_beside_its_folder_and_a_missing_token"},
    "test_predictions": {"test_churn_risk_and_expected_orders_match_a_monte_carlo_simulation",
                         "test_maximum_likelihood_fit_recovers_simulated_parameters",
                         "test_expected_order_value_shrinks_towards_the_population_mean",
                         "test_summarise_counts_distinct_order_days_and_whole_days_to_the_as_of_date",
                         "test_a_fit_at_a_boundary_is_flagged_and_not_used"},
    "test_privacy": {"test_mirror_guard_never_holds_back_consent_or_privacy_removals",
                     "test_gx_privacy_check_fails_on_erased_suppressed_or_unconsented_rows"},
    "test_serve": {"test_the_sensor_first_look_skips_files_the_warehouse_has_read",
                   "test_erasure_requests_in_a_landing_folder_are_counted",
                   "test_a_request_filed_on_a_landing_folder_lands_as_a_delivery",
                   "test_one_service_per_state_folder"},
    "test_staging_build": {"test_seeds_match_libphonenumber_metadata"},
    "test_sync_dagster": {"test_failed_share_and_non_retryable_errors_fail_the_step",
                          "test_an_events_sync_runs_after_the_record_syncs_of_its_destination"},
    "test_sync_tolerance": {"test_a_tolerance_where_it_cannot_apply_is_a_one_line_config_error",
                            "test_the_declared_defaults_and_tolerance_arithmetic",
                            "test_a_change_past_the_tolerance_or_of_another_field_is_sent_at_once",
                            "test_a_malformed_property_types_beside_a_tolerance_is_reported_not_a_crash"},
}


# `make test` runs two pytest processes side by side, each with its own dbt target and log folders: the Spark
# tests and these modules (plain dbt builds, no Dagster) in one, everything else in the other. One process
# keeps one of the two cores busy about 90% of the time, so two halve the suite's wall time.
BESIDE_MODULES = frozenset({
    "test_extending",
    "test_identity_tier",
    "test_incremental",
    "test_journey_history",
    "test_journeys",
    "test_landing",
    "test_predictions",
})


def is_fast(module: str, test_name: str) -> bool:
    """The tier of one test, by its module's name and its own (parametrised ids stripped)."""
    if module in FAST_MODULES:
        return True
    return test_name.split("[", 1)[0] in FAST_TESTS.get(module, ())


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        module = Path(str(item.fspath)).stem
        item.add_marker(pytest.mark.fast if is_fast(module, item.name) else pytest.mark.slow)
        if module in BESIDE_MODULES:
            item.add_marker(pytest.mark.beside)


@dataclass
class Warehouse:
    raw_dir: Path
    db_path: Path

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(query, params or []).fetchall()

    def scalar(self, query: str) -> object:
        return self.sql(query)[0][0]


def build_warehouse(raw_dir: Path, db_path: Path) -> Warehouse:
    dbt(raw_dir, db_path, "build")
    return Warehouse(raw_dir, db_path)


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def small_warehouse(tmp_path_factory) -> Warehouse:
    """3,000 generated persons, built end to end."""
    root = tmp_path_factory.mktemp("small")
    generate(3_000, 11, root / "raw")
    return build_warehouse(root / "raw", root / "warehouse.duckdb")


@pytest.fixture(scope="session")
def identity_warehouse(tmp_path_factory) -> Warehouse:
    """20,000 generated persons: the size the identity quality targets are stated for."""
    root = tmp_path_factory.mktemp("identity")
    generate(20_000, 2026, root / "raw")
    return build_warehouse(root / "raw", root / "warehouse.duckdb")


def shop_customer_with_web_events(raw: Path) -> tuple[str, str]:
    """A shop customer's id and email where the customer's web events carry the id and no email: records that
    only the identity graph ties to the email."""
    with (raw / "web_events.csv").open(newline="", encoding="utf-8") as fh:
        users = {row["user_id"].strip() for row in csv.DictReader(fh) if row["user_id"].strip() and not row["email"]}
    with (raw / "shop_customers.csv").open(newline="", encoding="utf-8") as fh:
        return next((row["customer_id"].strip(), row["email"]) for row in csv.DictReader(fh)
                    if row["customer_id"].strip() in users and "@" in row["email"] and " " not in row["email"])
