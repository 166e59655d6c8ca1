"""The probabilistic tier's trained model, kept in the warehouse between builds, and incremental scoring with it.

A pair's score is a function of its two records and of the model alone once the model carries its term
frequencies: the Splink settings with their estimated m and u (no value in them) and, per term-frequency column,
each value's frequency at training, keyed by the value's MD5 (no name or email stored) plus one default for a
value training did not see. So new and changed records can be compared with every record (Splink's
find_matches_to_new_records, blocked by the model's own rules) and the pairs of untouched records kept: the
result is the pairs a full scoring with the same model gives. The model is trained on a full refresh.

Model rows (one frame, the long form of `predictive_model_parameters`): part `settings` (model_json,
trained_at, trained_on_records), `term_frequency` (column_name, value_hash, term_frequency) and
`term_frequency_default` (column_name, term_frequency)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection
from datetime import UTC, datetime

import pandas as pd
from splink import DuckDBAPI, Linker

from cdp.identity_matching import (build_linker, empty_pairs, pairs_from_predictions, prepare_records, settings_for,
                                   train)

MODEL_COLUMNS = {"part": "str", "column_name": "str", "value_hash": "str", "term_frequency": "float64",
                 "model_json": "str", "trained_at": "datetime64[us]", "trained_on_records": "int64"}


def value_hash(value: object) -> str:
    return hashlib.md5(str(value).encode("utf-8")).hexdigest()


def empty_model() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in MODEL_COLUMNS.items()})


def _rows(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(MODEL_COLUMNS))
    return frame.astype({c: t for c, t in MODEL_COLUMNS.items() if c != "trained_at"}).assign(
        trained_at=pd.to_datetime(frame["trained_at"]).astype("datetime64[us]"))


def train_model(records: pd.DataFrame, *, deterministic_recall: float = 0.85) -> pd.DataFrame:
    """EM on these records (cdp.identity_matching.train), then the model's rows. Too few records or no usable
    column: no rows (the tier scores nothing)."""
    prepared, model = prepare_records(records)
    if model is None:
        return empty_model()
    linker = build_linker(prepared, settings_for(model))
    train(linker, model, deterministic_recall)
    settings = linker.misc.save_model_to_json()
    trained_at = datetime.now(UTC).replace(tzinfo=None)
    rows = [{"part": "settings", "model_json": json.dumps(settings, sort_keys=True), "trained_at": trained_at,
             "trained_on_records": len(prepared)}]
    for column in tf_columns(linker):
        values = prepared[column].dropna()
        if values.empty:
            continue
        frequency = values.value_counts(normalize=True)
        rows += [{"part": "term_frequency", "column_name": column, "value_hash": value_hash(v),
                  "term_frequency": float(f), "trained_at": trained_at} for v, f in frequency.items()]
        rows.append({"part": "term_frequency_default", "column_name": column, "term_frequency": 1.0 / len(values),
                     "trained_at": trained_at})
    return _rows([{**row, "trained_on_records": len(prepared)} for row in rows])


def tf_columns(linker: Linker) -> list[str]:
    return sorted({c.unquote().name for c in linker._settings_obj._term_frequency_columns})


def stale_term_frequencies(model_rows: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """The stored term-frequency rows whose value no current record carries (an erased or deleted record's name
    or email): (column_name, value_hash) to delete, so the model keeps no trace of values that left."""
    prepared, _ = prepare_records(records)
    stored = model_rows[model_rows["part"] == "term_frequency"][["column_name", "value_hash"]]
    current = {(c, value_hash(v)) for c in stored["column_name"].unique() if c in prepared
               for v in prepared[c].dropna().unique()}
    keep = [(c, h) in current for c, h in zip(stored["column_name"], stored["value_hash"])]
    return stored[[not k for k in keep]].reset_index(drop=True)


def _register_term_frequencies(linker: Linker, prepared: pd.DataFrame, model_rows: pd.DataFrame) -> None:
    """Each term-frequency column's lookup for the values the records carry: the frequency at training, or the
    column's default (a value seen once) for a value training did not see."""
    stored = model_rows[model_rows["part"] == "term_frequency"]
    defaults = model_rows[model_rows["part"] == "term_frequency_default"].set_index("column_name")["term_frequency"]
    for column in tf_columns(linker):
        known = dict(zip(stored.loc[stored["column_name"] == column, "value_hash"],
                         stored.loc[stored["column_name"] == column, "term_frequency"]))
        default = float(defaults.get(column, 1.0))
        values = prepared[column].dropna().drop_duplicates() if column in prepared else pd.Series(dtype="str")
        lookup = pd.DataFrame({column: values.astype("str").values,
                               f"tf_{column}": [known.get(value_hash(v), default) for v in values]})
        linker.table_management.register_term_frequency_lookup(lookup, column, overwrite=True)


def _weight(probability: float) -> float:
    probability = min(max(probability, 1e-12), 1 - 1e-12)
    return math.log2(probability / (1 - probability))


def score_with_model(records: pd.DataFrame, model_rows: pd.DataFrame, *, min_probability: float,
                     new_keys: Collection[str] | None = None, db_api: DuckDBAPI | None = None) -> pd.DataFrame:
    """Pairs with match probability >= min_probability (cdp.identity_matching.pairs_from_predictions columns),
    pairs of records in one deterministic cluster included (which clusters a pair joins is decided downstream).
    new_keys None: every candidate pair of the records; otherwise only the pairs with at least one record in
    new_keys, compared with every record through the model's blocking rules."""
    settings_rows = model_rows[model_rows["part"] == "settings"]
    if settings_rows.empty or (new_keys is not None and not new_keys):
        return empty_pairs()
    prepared, _ = prepare_records(records)
    if prepared.empty:
        return empty_pairs()
    settings = json.loads(settings_rows["model_json"].iloc[0])
    linker = build_linker(prepared, settings, db_api)
    _register_term_frequencies(linker, prepared, model_rows)
    if new_keys is None:
        predictions = linker.inference.predict(threshold_match_probability=min_probability)
    else:
        new = prepared[prepared["unique_id"].isin(set(new_keys))]
        if new.empty:
            return empty_pairs()
        rules = settings["blocking_rules_to_generate_predictions"]
        predictions = linker.inference.find_matches_to_new_records(
            new, blocking_rules=rules, match_weight_threshold=_weight(min_probability) - 1)
    scored = predictions.as_pandas_dataframe()
    predictions.drop_table_from_database_and_remove_from_cache()
    scored = scored[(scored["unique_id_l"] != scored["unique_id_r"])
                    & (scored["match_probability"] >= min_probability)]
    return pairs_from_predictions(scored)


def score_pairs(records: pd.DataFrame, *, min_probability: float, deterministic_recall: float = 0.85) -> pd.DataFrame:
    """Train on the records, then score every candidate pair: the pairs of records in different deterministic
    clusters with match probability >= min_probability. Used where nothing is kept between runs (the FEBRL
    accuracy check)."""
    pairs = score_with_model(records, train_model(records, deterministic_recall=deterministic_recall),
                             min_probability=min_probability)
    cluster = dict(zip(records["unique_id"].astype("str"), records["cluster_id"]))
    return pairs[[cluster[a] != cluster[b] for a, b in zip(pairs["unique_id_l"], pairs["unique_id_r"])]].reset_index(
        drop=True)
