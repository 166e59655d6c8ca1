"""The probabilistic tier's scores: Splink compares the named records of int_identity_match_records with the stored
model (int_identity_match_model) and keeps the pairs whose match probability reaches var
scored_pairs_min_probability (record_key_a < record_key_b), with each comparison's contribution (mw_<column>,
bits). Pairs inside one deterministic cluster are kept too: which clusters a pair joins is decided downstream, so a
pair's row depends on its two records and the model only. A full build scores every candidate pair; an incremental
build deletes the pairs of the records in int_identity_scope_match_records (new, changed, vanished; all of them
after the model was retrained) and compares those records with every record (Splink's
find_matches_to_new_records): the pairs a full scoring would give. Splink works in its own in-memory DuckDB, so
none of its work tables (which hold names and emails) stays in the warehouse.
A dbt Python model, enabled on DuckDB when var identity_probabilistic_tier is on (../fallback/ otherwise)."""

from cdp.identity_model import score_with_model

MATCH_COLUMNS = ["first_name", "last_name", "email", "email_local", "email_domain", "phone", "city", "country"]


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append", on_schema_change="fail")
    min_probability = float(dbt.config.get("scored_pairs_min_probability"))
    records = dbt.ref("int_identity_match_records").df()
    model_rows = dbt.ref("int_identity_match_model").df()
    frame = records.rename(columns={"record_key": "unique_id"})[["unique_id", "cluster_id", *MATCH_COLUMNS]]
    new_keys = None
    if dbt.is_incremental:
        scope = dbt.ref("int_identity_scope_match_records").df()
        session.register("cdp_match_scope", scope[["record_key"]])
        session.execute(f"delete from {dbt.this} where record_key_a in (select record_key from cdp_match_scope) "
                        "or record_key_b in (select record_key from cdp_match_scope)")
        session.unregister("cdp_match_scope")
        new_keys = set(scope["record_key"])
    pairs = score_with_model(frame, model_rows, min_probability=min_probability, new_keys=new_keys)
    return pairs.rename(columns={"unique_id_l": "record_key_a", "unique_id_r": "record_key_b"})
