"""The prediction backtest as an asset: after each build it fits on all but the last 26 weeks of orders,
predicts those weeks and shows predicted against actual (Markdown, with the charts written beside it under
the state folder) in the asset's metadata. The fit and scoring themselves are the dbt models
customer_predictions and predictive_model_parameters, assets of the dbt graph with their blocking check
(Python models on DuckDB; on Spark `cdp build` writes their tables from its driver, predict/spark.py)."""

import dagster as dg



@dg.asset(
    deps=[dg.AssetKey(["customer_predictions"]), dg.AssetKey(["predictive_model_parameters"])],
    group_name="predictions", kinds={"python", "duckdb"}, owners=["team:analytics-engineering"],
    pool="duckdb_writer",
    description="Backtest of the prediction models: fit on the orders up to 26 weeks before the last order day, "
                "predicted vs actual repeat orders in those weeks (total, by calibration orders, week by week), AUC "
                "of churn risk. Same report as `cdp predict backtest`.",
)
def prediction_backtest() -> dg.MaterializeResult:
    from cdp.settings import load_settings
    from predict.backtest import default_window, read_order_days, run_backtest

    settings = load_settings()

    order_days = read_order_days(settings.duckdb_path)
    if order_days.empty:
        return dg.MaterializeResult(metadata={"report": dg.MetadataValue.md("No orders in the warehouse: no backtest.")})
    calibration_end, holdout_end = default_window(order_days)
    try:
        result = run_backtest(order_days, calibration_end, holdout_end, settings.state_dir / "backtest")
    except ValueError as exc:  # too few buyers before the calibration end: say so, do not fail the run
        return dg.MaterializeResult(metadata={"report": dg.MetadataValue.md(f"Backtest not run: {exc}")})
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.md(result.markdown),
        "auc_churn_risk": float(result.auc_churn_risk),
        "predicted_repeat_orders": float(result.predicted_total),
        "actual_repeat_orders": float(result.actual_total),
        "report_path": dg.MetadataValue.path(str(result.report_path)),
        "charts": dg.MetadataValue.md("\n".join(f"- {c}" for c in result.charts)),
    })
