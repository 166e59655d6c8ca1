"""The privacy governance check (GX Core 1.x on DataFrames read from DuckDB): no erased or suppressed person
in any sync model, and no address without its own `subscribed` consent in the marketing sync. Erased persons
are known only as salted hashes (privacy_erased_identifiers), so the rows' person ids and emails are hashed
the same way (sync.privacy.privacy_hash) before they are compared."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from cdp.governance_suites import SuiteOutcome, validate
from sync.privacy import privacy_hash

SYNC_MODELS = ["sync_hubspot__contacts", "sync_salesforce__contacts", "sync_webhook__marketing_contacts",
               "sync_webhook__journey_events"]  # journey events: consent is checked per event at delivery
MARKETING_MODELS = ["sync_webhook__marketing_contacts"]


def _frames(db_path: Path) -> tuple[pd.DataFrame, set[str], set[str], set[str]]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = {t for (t,) in con.execute("select table_name from duckdb_tables() where schema_name = 'main' "
                                            "union select view_name from duckdb_views() where schema_name = 'main'"
                                            ).fetchall()}
        parts = [con.execute(f"select '{m}' as model, person_id, email, "
                             f"{'email_consent' if m in MARKETING_MODELS else 'null'} as email_consent from {m}").df()
                 for m in SYNC_MODELS if m in tables]
        erased_people: set[str] = set()
        erased_emails: set[str] = set()
        if "privacy_erased_identifiers" in tables:
            for t, h in con.execute("select identifier_type, identifier_hash from privacy_erased_identifiers "
                                    "where identifier_type in ('person_id', 'email')").fetchall():
                (erased_people if t == "person_id" else erased_emails).add(h)
        suppressed = ({p for (p,) in con.execute("select person_id from privacy_suppressed_persons").fetchall()}
                      if "privacy_suppressed_persons" in tables else set())
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["model", "person_id", "email", "email_consent"])
    frame["person_hash"] = [privacy_hash("person_id", str(p)) for p in frame["person_id"]]
    frame["email_hash"] = [privacy_hash("email", str(e)) if e is not None else "" for e in frame["email"]]
    return frame.drop(columns=["email"]), erased_people, erased_emails, suppressed


def privacy_suite(db_path: Path, docs_dir: Path | None = None) -> SuiteOutcome:
    import great_expectations as gx

    frame, erased_people, erased_emails, suppressed = _frames(db_path)
    marketing = frame[frame["model"].isin(MARKETING_MODELS)].reset_index(drop=True)
    everyone = validate("privacy_sync_models", frame.drop(columns=["email_consent"]), [
        gx.expectations.ExpectColumnValuesToNotBeInSet(column="person_hash", value_set=sorted(erased_people)),
        gx.expectations.ExpectColumnValuesToNotBeInSet(column="email_hash", value_set=sorted(erased_emails)),
        gx.expectations.ExpectColumnValuesToNotBeInSet(column="person_id", value_set=sorted(suppressed)),
    ], docs_dir)
    consent = validate("privacy_marketing_consent", marketing[["person_id", "email_consent"]], [
        gx.expectations.ExpectColumnValuesToBeInSet(column="email_consent", value_set=["subscribed"]),
    ], docs_dir)
    return SuiteOutcome("privacy", everyone.success and consent.success, everyone.outcomes + consent.outcomes,
                        docs=everyone.docs + consent.docs)
