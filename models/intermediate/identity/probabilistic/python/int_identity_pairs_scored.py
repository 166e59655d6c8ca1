"""The probabilistic tier's scores: Splink (Fellegi-Sunter, trained by EM on these records, no labels) compares the
named records of int_identity_match_records and keeps the pairs in different deterministic clusters whose match
probability reaches var review_threshold (record_key_a < record_key_b), with each comparison's contribution (mw_<column>, bits). Splink works
in its own in-memory DuckDB, so none of its work tables (which hold names and emails) stays in the warehouse.
A dbt Python model, enabled on DuckDB when var identity_probabilistic_tier is on (../fallback/ otherwise)."""

from cdp.identity_matching import score_pairs

MATCH_COLUMNS = ["first_name", "last_name", "email", "email_local", "email_domain", "phone", "city", "country"]


def model(dbt, session):
    dbt.config(materialized="table")
    review_threshold = float(dbt.config.get("review_threshold"))
    records = dbt.ref("int_identity_match_records").df()
    frame = records.rename(columns={"record_key": "unique_id"})[["unique_id", "cluster_id", *MATCH_COLUMNS]]
    pairs = score_pairs(frame, min_probability=review_threshold)
    return pairs.rename(columns={"unique_id_l": "record_key_a", "unique_id_r": "record_key_b"})
