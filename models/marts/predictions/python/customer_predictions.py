"""Per person: p_alive, churn_risk (no order within horizon_days), expected_orders, expected_order_value,
predicted_clv and predicted_next_order_at, from the parameters in predictive_model_parameters and the
person's summary (int_person_order_summary, package predict/). Persons without orders get the population
prior's values (prediction_basis says which). Enabled on DuckDB; Spark scores with the same code on its
executors (predict/spark.py); other targets build ../fallback/."""

from predict import warehouse


def model(dbt, session):
    dbt.config(materialized="table")
    horizon_days = int(dbt.config.get("prediction_horizon_days"))
    discount = float(dbt.config.get("prediction_annual_discount_rate"))
    persons = dbt.ref("int_profiles_traited").project("person_id, as_of_at").df()
    as_of = persons["as_of_at"].max()
    rows = dbt.ref("predictive_model_parameters").df()
    bg, gg = warehouse.params_from_rows(rows)
    summary = warehouse.from_summary_table(dbt.ref("int_person_order_summary").df())
    return warehouse.score(persons["person_id"], summary, bg, gg, as_of, horizon_days, discount,
                           warehouse.mean_order_value(summary))
