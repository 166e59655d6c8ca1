"""Predictions: the models against a Monte-Carlo simulation and the published CDNOW fits, the planted
process of the sample data recovered through a real build, and CDP_AS_OF (a build as of a past instant
equals a build of the raw files cut at that instant)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from datagen.sample_data import PLANTED_BG_NBD, PLANTED_GAMMA_GAMMA, RAW_FILES, generate
from predict import models as m
from predict import warehouse
from tests.compare import comparable, differences, person_keys_view
from tests.conftest import Warehouse, dbt

DATA = Path(__file__).parent / "data"
CDNOW_PUBLISHED = {("bg_nbd", "r"): 0.243, ("bg_nbd", "alpha"): 4.414, ("bg_nbd", "a"): 0.793,
                   ("bg_nbd", "b"): 2.426, ("gamma_gamma", "p"): 6.25, ("gamma_gamma", "q"): 3.74,
                   ("gamma_gamma", "gamma"): 15.44}
CDNOW_PARAMS = m.BgNbdParams(0.243, 4.414, 0.793, 2.426)


# ------------------------------------------------------------------------------------- pure model logic
def test_churn_risk_and_expected_orders_match_a_monte_carlo_simulation():
    """Among simulated persons with the same history summary, the mean predicted churn risk must equal the
    share who made no purchase in the holdout (and likewise for expected orders): E[prediction | history]
    is the conditional probability by definition, so averaging within groups of x is an exact check."""
    rng = np.random.default_rng(7)
    n, horizon = 300_000, 26.0
    sim = m.simulate(CDNOW_PARAMS, None, rng.uniform(4, 52, n), horizon, rng)
    risk = m.churn_risk(CDNOW_PARAMS, sim["x"], sim["t_x"], sim["T"], horizon)
    expected = m.expected_transactions(CDNOW_PARAMS, sim["x"], sim["t_x"], sim["T"], horizon)
    none = sim["holdout"] == 0
    for label, group in (("x=0", sim["x"] == 0), ("x=1", sim["x"] == 1), ("x=2-3", (sim["x"] >= 2) & (sim["x"] <= 3)),
                         ("x>=4", sim["x"] >= 4)):
        k = int(group.sum())
        assert k > 5_000, label
        observed = none[group].mean()
        se = np.sqrt(observed * (1 - observed) / k)
        assert abs(risk[group].mean() - observed) < 4 * se + 0.002, (label, risk[group].mean(), observed)
        counts = sim["holdout"][group]
        assert abs(expected[group].mean() - counts.mean()) < 4 * counts.std() / np.sqrt(k) + 0.005, label
    # 1 - p_alive is not the churn risk: a one-time buyer has p_alive = 1 yet often buys nothing
    zero = sim["x"] == 0
    assert np.all(m.p_alive(CDNOW_PARAMS, sim["x"][zero], sim["t_x"][zero], sim["T"][zero]) == 1.0)
    assert none[zero].mean() > 0.5


def test_maximum_likelihood_fit_recovers_simulated_parameters():
    rng = np.random.default_rng(11)
    bg = m.BgNbdParams(**PLANTED_BG_NBD)
    gg = m.GammaGammaParams(**PLANTED_GAMMA_GAMMA)
    sim = m.simulate(bg, gg, rng.uniform(1, 140, 60_000), 0.0, rng)
    fit = m.fit_bgnbd(sim["x"], sim["t_x"], sim["T"])
    assert fit.converged
    for name, true in PLANTED_BG_NBD.items():
        got, se = getattr(fit.params, name), fit.std_errors[name]
        assert abs(got - true) < 3.5 * se and se < 0.1 * true, (name, got, true, se)
    repeat = sim["x"] > 0
    spend = m.fit_gamma_gamma(sim["x"][repeat], sim["m_x"][repeat])
    assert spend.converged
    for name, true in PLANTED_GAMMA_GAMMA.items():
        got, se = getattr(spend.params, name), spend.std_errors[name]
        assert abs(got - true) < 3.5 * se and se < 0.1 * true, (name, got, true, se)


def test_expected_order_value_shrinks_towards_the_population_mean():
    gg = m.GammaGammaParams(6.25, 3.74, 15.44)
    population = 6.25 * 15.44 / 2.74
    values = m.expected_order_value(gg, np.array([0, 1, 50]), np.array([np.nan, 100.0, 100.0]))
    assert values[0] == pytest.approx(population)
    assert population < values[1] < values[2] < 100.0


# --------------------------------------------------------------------------------- CDNOW through a build
def write_orders_raw(out: Path, orders: list[tuple[str, str, str]]) -> int:
    """Orders (customer id, ISO day, amount) through the raw-file contract: a shop customer per customer id,
    a paid order per row (several rows of one day are one transaction), every other file header-only."""
    out.mkdir(parents=True, exist_ok=True)
    first: dict[str, str] = {}
    for cid, day, _amount in orders:
        first.setdefault(cid, day)
    for name, columns in RAW_FILES.items():
        with (out / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            if name == "shop_customers":
                for cid, day in first.items():
                    writer.writerow([f"C{cid}", "", "", "", "", "", "US", "", day, day])
            elif name == "shop_orders":
                for i, (cid, day, amount) in enumerate(orders):
                    writer.writerow([f"O{i}", f"C{cid}", "", "paid", "USD", amount, day])
    return len(first)


def write_cdnow_raw(out: Path) -> int:
    """CDNOW through the raw-file contract (write_orders_raw)."""
    rows = [line.split() for line in (DATA / "CDNOW_sample.txt").read_text().splitlines() if line.strip()]
    return write_orders_raw(out, [(cid, f"{day[:4]}-{day[4:6]}-{day[6:]}", amount) for _m, cid, day, _c, amount in rows])


@pytest.fixture(scope="module")
def cdnow_warehouse(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("cdnow")
    assert write_cdnow_raw(root / "raw") == 2357
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDP_AS_OF", "1997-09-30")
        dbt(root / "raw", root / "warehouse.duckdb", "build")
    return Warehouse(root / "raw", root / "warehouse.duckdb")


def test_cdnow_fit_through_the_warehouse_matches_the_published_parameters(cdnow_warehouse):
    rows = cdnow_warehouse.sql("select model, parameter, value, time_unit, fitted_on_persons, fit_status, as_of "
                               "from predictive_model_parameters")
    got = {(r[0], r[1]): r for r in rows}
    assert set(got) == set(CDNOW_PUBLISHED)
    for key, published in CDNOW_PUBLISHED.items():
        value = got[key][2]
        assert abs(value - published) <= 0.02 * published, (key, value, published)
        assert got[key][5] == "converged"
    assert got[("bg_nbd", "alpha")][3] == "week"
    assert got[("bg_nbd", "r")][4] == 2357 and got[("gamma_gamma", "p")][4] == 946
    assert got[("bg_nbd", "r")][6] == datetime(1997, 9, 30, 23, 59, 59, 999999)
    # the orders after the calibration end are accounted for, not staged
    staged, after = cdnow_warehouse.sql("select rows_staged, rows_after_as_of from source_row_counts "
                                        "where source_name = 'shop_orders'")[0]
    assert after > 0 and staged + after == 6919
    assert cdnow_warehouse.scalar("select max(ordered_at) from stg_shop__orders") < datetime(1997, 10, 1)
    n, basis = cdnow_warehouse.sql("select count(*), min(prediction_basis) from customer_predictions")[0]
    assert n == 2357 and basis == "order_history"


def test_cdnow_churn_risk_ranks_holdout_buyers(cdnow_warehouse):
    """Who bought again in the 39 weeks after calibration: churn risk must rank it far better than chance."""
    holdout: set[str] = set()
    for line in (DATA / "CDNOW_sample.txt").read_text().splitlines():
        _mid, cid, day, _cds, _amount = line.split()
        if "19971001" <= day <= "19980630":
            holdout.add(f"C{cid}")
    rows = cdnow_warehouse.sql("""
        select r.source_record_id, p.churn_risk, p.p_alive
        from customer_predictions p join person_records r using (person_id)
        where r.source_name = 'shop_customers'""")
    bought = np.array([r[0] in holdout for r in rows])
    risk = np.array([r[1] for r in rows])
    from predict.backtest import auc

    assert auc(risk, ~bought) > 0.7


# ------------------------------------------------------------------------- planted process, real build
def test_build_recovers_the_planted_buying_process(identity_warehouse):
    """The sample data's orders come from PLANTED_BG_NBD and PLANTED_GAMMA_GAMMA (datagen/sample_data.py);
    fitted through staging, identity resolution and the prediction models, every parameter lands within
    3 standard errors of the planted value."""
    rows = identity_warehouse.sql("select parameter, value, std_error, fit_status from predictive_model_parameters")
    planted = {**PLANTED_BG_NBD, **PLANTED_GAMMA_GAMMA}
    assert {r[0] for r in rows} == set(planted)
    for name, value, se, status in rows:
        assert status == "converged"
        assert abs(value - planted[name]) < 3 * se, (name, value, planted[name], se)
    by_name = {r[0]: r[1] for r in rows}
    mean_spend = by_name["p"] * by_name["gamma"] / (by_name["q"] - 1)
    planted_spend = planted["p"] * planted["gamma"] / (planted["q"] - 1)
    assert abs(mean_spend - planted_spend) < 0.05 * planted_spend
    basis = dict(identity_warehouse.sql("select prediction_basis, count(*) from customer_predictions group by 1"))
    assert basis["order_history"] > 5_000 and basis["prior_no_orders"] > 5_000
    assert identity_warehouse.scalar("select count(*) from customer_predictions where churn_risk is null") == 0


# ---------------------------------------------------------------------------------------------- CDP_AS_OF
STAMPS = {"crm_contacts": ("updated_at", "created_at"), "shop_customers": ("updated_at", "created_at"),
          "shop_orders": ("ordered_at",), "web_events": ("occurred_at",), "support_tickets": ("created_at",),
          "email_consents": ("updated_at",)}


def _parse(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def cut_raw_files(src: Path, dst: Path, cut: datetime) -> int:
    """The raw files without the rows stamped after `cut` (rows without a readable stamp stay). Returns the
    number of rows removed."""
    dst.mkdir(parents=True, exist_ok=True)
    removed = 0
    for name, stamp_columns in STAMPS.items():
        with (src / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            rows = list(reader)
        kept = []
        for row in rows:
            stamp = next((v for v in (_parse(row[header.index(c)]) for c in stamp_columns) if v), None)
            if stamp is not None and stamp > cut:
                removed += 1
            else:
                kept.append(row)
        with (dst / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(kept)
    return removed


def test_build_as_of_a_past_date_equals_a_build_of_the_raw_files_cut_there(tmp_path, monkeypatch):
    generate(1_500, 21, tmp_path / "raw")
    assert cut_raw_files(tmp_path / "raw", tmp_path / "cut", datetime(2025, 6, 30, 23, 59, 59, 999999)) > 1_000
    monkeypatch.setenv("CDP_AS_OF", "2025-06-30")
    dbt(tmp_path / "raw", tmp_path / "asof.duckdb", "build")
    dbt(tmp_path / "cut", tmp_path / "cut.duckdb", "build")

    con = duckdb.connect()
    for prefix in ("asof", "cut"):
        con.execute(f"attach '{tmp_path / prefix}.duckdb' as {prefix}_db (read_only)")
        for table in ("person_records", "customer_profiles", "customer_predictions", "predictive_model_parameters"):
            con.execute(f"create view {prefix}_{table} as select * from {prefix}_db.main.{table}")
        person_keys_view(con, prefix)
    assert con.execute("select count(*) from asof_customer_profiles").fetchone()[0] > 800
    for table, exclude in (("person_records", ()), ("customer_profiles", ()),
                           ("customer_predictions", ("model_fitted_at",))):
        left, right = (comparable(con, f"{p}_{table}", person_column="person_id", prefix=p, exclude=exclude)
                       for p in ("asof", "cut"))
        assert differences(con, left, right) == [], table
    assert differences(con, comparable(con, "asof_predictive_model_parameters"),
                       comparable(con, "cut_predictive_model_parameters")) == []
    as_of = con.execute("select min(as_of_at), max(as_of_at) from asof_customer_profiles").fetchone()
    assert as_of == (datetime(2025, 6, 30, 23, 59, 59, 999999),) * 2
    assert con.execute("select max(ordered_at) from asof_db.main.base_shop__orders "
                       "where _row_fate = 'staged'").fetchone()[0] <= as_of[0]

    con.close()

    # a later run without CDP_AS_OF restages every base table in full (stored rows were cut) and stages all
    monkeypatch.delenv("CDP_AS_OF")
    log = dbt(tmp_path / "raw", tmp_path / "asof.duckdb", "build").stdout
    assert "base_shop__orders: CDP_AS_OF changed since the last run" in log
    with duckdb.connect(str(tmp_path / "asof.duckdb"), read_only=True) as db:
        assert db.execute("select sum(rows_after_as_of) from source_row_counts").fetchone()[0] == 0
        assert db.execute("select max(ordered_at) from base_shop__orders "
                          "where _row_fate = 'staged'").fetchone()[0] > as_of[0]
        assert db.execute("select count(*) from base_shop__orders where _staged_as_of is not null").fetchone()[0] == 0


def test_summarise_counts_distinct_order_days_and_whole_days_to_the_as_of_date():
    days = pd.DataFrame({"person_id": ["a", "a", "a", "b", "a"],
                         "order_day": ["2025-01-01", "2025-01-01", "2025-01-15", "2025-02-01", "2025-03-01"],
                         "order_value": [10.0, 5.0, 30.0, 7.0, 99.0]})
    s = warehouse.summarise(days, datetime(2025, 2, 28, 23, 59)).set_index("person_id")
    assert s.loc["a", "x"] == 1 and s.loc["a", "t_x"] == 2.0 and s.loc["a", "T"] == 58 / 7
    assert s.loc["a", "m_x"] == 30.0  # the repeat day's value; the first day (15) is not a repeat
    assert s.loc["b", "x"] == 0 and np.isnan(s.loc["b", "m_x"])


def test_a_fit_at_a_boundary_is_flagged_and_not_used():
    """A Gamma-Gamma fit on buyers who all spend alike runs to p -> infinity: it is outside_sane_range,
    params_from_rows leaves it out, and scoring falls back to the population mean order value."""
    import numpy as np
    import pandas as pd

    from predict import models as m
    from predict import warehouse

    rng = np.random.default_rng(3)
    x = rng.integers(1, 6, 300).astype(float)
    m_x = 50.0 + rng.normal(0, 0.01, 300)  # almost no spread between buyers: the likelihood peaks at the boundary
    gg = m.fit_gamma_gamma(x, m_x)
    ranges = {"gamma_gamma": {"p": [0.001, 1000], "q": [1, 1000], "gamma": [0.000001, 10000000]}}
    fitted = warehouse.Fitted(bgnbd=None, gamma_gamma=gg, mean_order_value=50.0)
    rows = warehouse.parameter_rows(fitted, pd.Timestamp("2026-01-01"), 0, 300, ranges)
    statuses = set(rows.loc[rows["model"] == "gamma_gamma", "fit_status"])
    assert statuses == {"outside_sane_range"}, rows
    assert warehouse.params_from_rows(rows)[1] is None
    # the same fit judged without ranges is an ordinary converged fit: the flag comes from the ranges
    assert set(warehouse.parameter_rows(fitted, pd.Timestamp("2026-01-01"), 0, 300)["fit_status"]) >= {"converged"}


def no_dropout_orders(persons: int, seed: int) -> list[tuple[str, str, str]]:
    """Orders of persons who never drop out (BG/NBD with dropout probability 0: Poisson buying at a
    Gamma-distributed rate), first orders spread over 1 January to 30 June 2025, observed to 31 December."""
    rng = np.random.default_rng(seed)
    orders = []
    for i in range(persons):
        start = pd.Timestamp("2025-01-01") + pd.Timedelta(days=int(rng.integers(0, 181)))
        rate = rng.gamma(0.9, 1.0 / 6.0)  # orders per week
        t = 0.0
        while t <= (pd.Timestamp("2025-12-31") - start).days / 7:
            orders.append((f"N{i}", (start + pd.Timedelta(days=int(t * 7))).strftime("%Y-%m-%d"),
                           f"{rng.gamma(4.0, 10.0):.2f}"))
            t += rng.exponential(1.0 / rate)
    return orders


def test_a_data_set_where_nobody_drops_out_is_fitted_and_scored_by_the_no_dropout_limit(tmp_path, monkeypatch):
    """BG/NBD's likelihood maximum lies at a -> 0, b -> infinity: the build passes its blocking prediction
    check, fit_status says boundary_no_dropout, and every buyer is scored by the NBD limit (p_alive 1,
    expected orders h (r + x) / (alpha + T))."""
    assert write_orders_raw(tmp_path / "raw", no_dropout_orders(400, 8)) == 400
    monkeypatch.setenv("CDP_AS_OF", "2025-12-31")
    dbt(tmp_path / "raw", tmp_path / "warehouse.duckdb", "build")  # raises unless every check passed
    wh = Warehouse(tmp_path / "raw", tmp_path / "warehouse.duckdb")
    params = {p: (v, s) for p, v, s in wh.sql("select parameter, value, fit_status from predictive_model_parameters "
                                               "where model = 'bg_nbd'")}
    assert {s for _v, s in params.values()} == {"boundary_no_dropout"}
    assert params["a"][0] == 0.0 and params["b"][0] is None
    r, alpha = params["r"][0], params["alpha"][0]
    assert 0.5 < r < 1.5 and 3 < alpha < 10, (r, alpha)
    scored = pd.DataFrame(wh.sql("select person_id, p_alive, expected_orders, churn_risk, prediction_basis "
                                 "from customer_predictions"),
                          columns=["person_id", "p_alive", "expected_orders", "churn_risk", "basis"])
    assert set(scored["basis"]) == {"order_history"} and (scored["p_alive"] == 1.0).all()
    days = pd.DataFrame(wh.sql("select person_id, order_day, order_value from int_person_order_days"),
                        columns=["person_id", "order_day", "order_value"])
    summary = warehouse.summarise(days, datetime(2025, 12, 31)).set_index("person_id")
    joined = scored.set_index("person_id").join(summary)
    h = 365 / 7
    np.testing.assert_allclose(joined["expected_orders"], h * (r + joined["x"]) / (alpha + joined["T"]), rtol=1e-9)
    np.testing.assert_allclose(joined["churn_risk"], ((alpha + joined["T"]) / (alpha + joined["T"] + h))
                               ** (r + joined["x"]), rtol=1e-9)
