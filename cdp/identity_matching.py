"""The probabilistic identity tier's Splink glue: a Fellegi-Sunter model over named records (CRM contacts, shop
accounts, support tickets), trained by EM on the warehouse's own records, that scores record pairs across the
deterministic clusters. Splink is the engine; this module only chooses comparisons, blocking and training for the
columns a record frame carries, so the dbt Python model and the accuracy bench score records the same way.

A record frame has `unique_id` and `cluster_id` (the deterministic cluster, an integer) and any of the columns in
COMPARED_COLUMNS; a column that is null everywhere is left out of the model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import ColumnExpression, DuckDBAPI, Linker, SettingsCreator, block_on

# Compared columns. A comparison's contribution column is mw_<name>: `name` compares first and last name together
# (term frequencies on the full name, so a common name in one city weighs little), the others one column each.
COMPARED_COLUMNS = ("first_name", "last_name", "email", "email_domain", "phone", "city", "country",
                    "postcode", "date_of_birth", "address", "street_number", "national_id")
CONTRIBUTIONS = ("name", "email", "email_domain", "phone", "city", "country", "postcode", "date_of_birth",
                 "address", "street_number", "national_id")
SEED = 42  # u is estimated on a seeded sample, so a rebuild of the same records scores them the same way
U_MAX_PAIRS = 2e6
# Candidate pairs agree on one of these (each rule keeps the pair count near-linear: names, a phone or an email's
# local part are shared by few records). Rules whose columns a frame lacks are left out.
BLOCKING_RULES: tuple[tuple[str, ...], ...] = (
    ("first_name", "last_name"),
    ("last_name", "city"),
    ("first_name", "city"),
    ("email_local",),
    ("last_name", "email_number"),
    ("phone",),
    ("postcode",),
    ("date_of_birth",),
    ("national_id",),
)
FALLBACK_RULE_COLUMNS = ("first_name", "last_name", "email", "phone", "date_of_birth", "city")
FALLBACK_RULE_RECALL = 0.6
# EM sessions: the first estimates every comparison but the names, the second (the first available) the names.
# Blocking on the email's local part pairs mostly records of one person, so the names' m values are learnt from
# true variation (nicknames, typos) rather than from families sharing a landline.
EM_SESSIONS: tuple[tuple[str, ...], ...] = (("first_name", "last_name"), ("email_local",), ("phone",),
                                            ("date_of_birth",), ("postcode",), ("city",))


@dataclass(frozen=True)
class MatchModel:
    """Which columns take part, the blocking rules that generate candidate pairs, and the EM sessions."""

    columns: tuple[str, ...]
    blocking: tuple[tuple[str, ...], ...]
    em_sessions: tuple[tuple[str, ...], ...]
    has_deterministic_pairs: bool


def _name_comparison():
    """First and last name together: the full name exact (weighted by how common it is, so a common name in one
    city weighs little), both names alike (typos), then the surname with the same first initial (a nickname:
    Jim and James, or an initial) apart from the surname with another first name (a family sharing a surname and
    landline), then the first name alone."""
    first, last = ColumnExpression("first_name"), ColumnExpression("last_name")
    return cl.CustomComparison(comparison_levels=[
        cll.And(cll.NullLevel(first), cll.NullLevel(last)),
        cll.ExactMatchLevel("full_name").configure(tf_adjustment_column="full_name"),
        cll.And(cll.JaroWinklerLevel(first, 0.92), cll.JaroWinklerLevel(last, 0.92)),
        cll.And(cll.JaroWinklerLevel(first, 0.85), cll.JaroWinklerLevel(last, 0.85)),
        cll.And(cll.ExactMatchLevel(last), cll.ExactMatchLevel(first.substr(1, 1))).configure(
            label_for_charts="Surname and first initial"),
        cll.ExactMatchLevel(last).configure(tf_adjustment_column="last_name", label_for_charts="Surname only"),
        cll.ExactMatchLevel(first).configure(tf_adjustment_column="first_name", label_for_charts="First name only"),
        cll.ElseLevel(),
    ], output_column_name="name")


def _comparison(column: str):
    if column == "name":
        return _name_comparison()
    if column in ("first_name", "last_name"):
        return cl.NameComparison(column, jaro_winkler_thresholds=[0.92, 0.8])
    if column == "email":
        # the exact address, else the same local part at another domain. No similarity bands: local parts built
        # from a name (jane.doe12, jane.doe31) are alike across different people who share the name.
        local = ColumnExpression(column).regex_extract("^[^@]+")
        return cl.CustomComparison(comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column).configure(tf_adjustment_column=column),
            cll.ExactMatchLevel(local).configure(label_for_charts="Exact match on local part"),
            cll.ExactMatchLevel("email_number").configure(tf_adjustment_column="email_number",
                                                          label_for_charts="Same number ending the local part"),
            cll.ElseLevel(),
        ], output_column_name=column)
    if column in ("city", "email_domain", "postcode", "address"):
        return cl.ExactMatch(column).configure(term_frequency_adjustments=True)
    if column in ("date_of_birth", "national_id"):
        return cl.LevenshteinAtThresholds(column, [1, 2])
    return cl.ExactMatch(column).configure(term_frequency_adjustments=column == "phone")


def choose_model(records: pd.DataFrame) -> MatchModel:
    present = {c for c in records.columns if records[c].notna().any()}
    columns = tuple(c for c in COMPARED_COLUMNS if c in present)
    if {"first_name", "last_name"} <= set(columns):
        columns = ("name", *(c for c in columns if c not in ("first_name", "last_name")))
    blocking = tuple(rule for rule in BLOCKING_RULES if set(rule) <= present)
    first, *others = EM_SESSIONS
    sessions = [first] if set(first) <= present else []
    sessions += [rule for rule in others if set(rule) <= present][:1]
    has_pairs = "cluster_id" in records and bool(records["cluster_id"].duplicated().any())
    return MatchModel(columns, blocking, tuple(sessions), has_pairs)


def prepare_records(records: pd.DataFrame) -> tuple[pd.DataFrame, MatchModel | None]:
    """The derived columns Splink compares (full name, the email's local part), records sorted by key, and the
    model their columns allow; None when fewer than 10 records or no usable column, blocking rule or session."""
    records = records.copy()
    if {"first_name", "last_name"} <= set(records.columns):
        records["full_name"] = records["first_name"] + " " + records["last_name"]
    if "email" in records.columns and "email_local" not in records.columns:
        records["email_local"] = records["email"].str.extract(r"^([^@]+)@", expand=False)
    if "email_local" in records.columns:
        # the number a person puts at the end of both a work and a personal address (jsmith84, john.smith84)
        records["email_number"] = records["email_local"].str.extract(r"(\d+)$", expand=False)
    records = records.sort_values("unique_id").reset_index(drop=True)
    model = choose_model(records)
    if len(records) < 10 or not model.columns or not model.blocking or not model.em_sessions:
        return records, None
    return records, model


def build_linker(records: pd.DataFrame, settings, db_api: DuckDBAPI | None = None) -> Linker:
    return Linker(records, settings, db_api=db_api or DuckDBAPI())


def settings_for(model: MatchModel) -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[_comparison(c) for c in model.columns],
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in model.blocking],
        additional_columns_to_retain=["cluster_id"],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


def train(linker: Linker, model: MatchModel, deterministic_recall: float) -> None:
    """EM without labels. The deterministic graph's links are the known matches Splink can use: the prior (share
    of pairs that match) counts the pairs it already joined (same cluster_id), scaled by the share of true pairs it
    is assumed to find. u comes from a seeded random sample, m from EM sessions blocked on different columns."""
    if model.has_deterministic_pairs:
        rules, recall = ["l.cluster_id = r.cluster_id"], deterministic_recall
    else:
        # no two records share a cluster yet (every record is its own): agreement on every compared column of
        # FALLBACK_RULE_COLUMNS stands in for the deterministic links
        rules = [block_on(*[c for c in FALLBACK_RULE_COLUMNS if c in model.columns])]
        recall = FALLBACK_RULE_RECALL
    linker.training.estimate_probability_two_random_records_match(rules, recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    for rule in model.em_sessions:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))


def contribution_columns() -> list[str]:
    return [f"mw_{c}" for c in CONTRIBUTIONS]


def empty_pairs() -> pd.DataFrame:
    frame = pd.DataFrame({"unique_id_l": pd.Series(dtype="str"), "unique_id_r": pd.Series(dtype="str"),
                          "match_probability": pd.Series(dtype="float64"),
                          "match_weight": pd.Series(dtype="float64")})
    for c in contribution_columns():
        frame[c] = pd.Series(dtype="float64")
    return frame


def _log2(x: float) -> float:
    return math.log2(x) if x is not None and x > 0 else float("nan")


def pairs_from_predictions(scored: pd.DataFrame) -> pd.DataFrame:
    """Splink's predictions as the tier's pairs: each pair once with its smaller key first (unique_id_l <
    unique_id_r), match_probability, match_weight and mw_<column> (each comparison's contribution in bits, the
    terms of Splink's waterfall chart; NaN for a column the model left out)."""
    if scored.empty:
        return empty_pairs()
    scored = scored.copy()
    swapped = scored["unique_id_l"] > scored["unique_id_r"]
    scored.loc[swapped, ["unique_id_l", "unique_id_r"]] = scored.loc[swapped, ["unique_id_r", "unique_id_l"]].values
    scored = scored.drop_duplicates(["unique_id_l", "unique_id_r"])
    out = scored[["unique_id_l", "unique_id_r", "match_probability", "match_weight"]].astype(
        {"unique_id_l": "str", "unique_id_r": "str", "match_probability": "float64", "match_weight": "float64"})
    for c in CONTRIBUTIONS:
        bf = f"bf_{c}"
        out[f"mw_{c}"] = scored[bf].astype("float64").map(_log2) if bf in scored else float("nan")
    return out.sort_values(["unique_id_l", "unique_id_r"]).reset_index(drop=True)
