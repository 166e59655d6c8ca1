"""The probabilistic tier's trained model (cdp.identity_model): Splink settings with the m and u EM estimated on
the named records of int_identity_match_records (no labels), and the term frequencies at training keyed by MD5.
Trained when the table is first built and on --full-refresh (the scheduled refresh); an incremental build keeps
it, so new records are scored with the same model as the records before them. An incremental build deletes the
term-frequency rows of values no record carries any more (an erased or deleted record's name or email).
A dbt Python model, enabled with int_identity_pairs_scored."""

from cdp.identity_model import empty_model, stale_term_frequencies, train_model

MATCH_COLUMNS = ["first_name", "last_name", "email", "email_local", "email_domain", "phone", "city", "country"]


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append", on_schema_change="fail")
    records = dbt.ref("int_identity_match_records").df()
    frame = records.rename(columns={"record_key": "unique_id"})[["unique_id", "cluster_id", *MATCH_COLUMNS]]
    if not dbt.is_incremental:
        return train_model(frame)
    stored = session.sql(f"select part, column_name, value_hash from {dbt.this}").df()
    stale = stale_term_frequencies(stored, frame)
    if not stale.empty:
        session.register("cdp_stale_term_frequencies", stale)
        session.execute(f"delete from {dbt.this} as m where m.part = 'term_frequency' and exists (select 1 from "
                        "cdp_stale_term_frequencies as s where s.column_name = m.column_name "
                        "and s.value_hash = m.value_hash)")
        session.unregister("cdp_stale_term_frequencies")
    return empty_model()
