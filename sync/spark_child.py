"""The Spark session of sync/spark_reader.py, in a process of its own that ends with the read (an embedded
metastore admits one JVM at a time): runs the queries it is given on stdin and writes each result into a table
of the DuckDB file it names, in chunks. pyspark is the `spark` extra, so only this process imports it."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import duckdb
import pandas as pd
from pyspark.sql import SparkSession

from sync.spark_reader import CHUNK_ROWS, TYPES


def _duck_type(spark_type: str) -> str:
    if spark_type.startswith("decimal"):
        return spark_type
    return TYPES.get(spark_type, "varchar")


def _write(con: duckdb.DuckDBPyConnection, name: str, frame) -> None:
    fields = [(f.name, _duck_type(f.dataType.simpleString())) for f in frame.schema.fields]
    con.execute(f'create table "{name}" ({", ".join(f"{chr(34)}{c}{chr(34)} {t}" for c, t in fields)})')
    rows: list = []

    def flush() -> None:
        # decimals as text, so DuckDB casts them exactly to the column's decimal type
        data = pd.DataFrame([[str(v) if isinstance(v, Decimal) else v for v in r] for r in rows],
                            columns=[c for c, _ in fields], dtype=object)
        con.register("chunk", data)
        con.execute(f'insert into "{name}" select {", ".join(f"cast({chr(34)}{c}{chr(34)} as {t})" for c, t in fields)} '
                    f"from chunk")
        con.unregister("chunk")
        rows.clear()

    for row in frame.toLocalIterator():
        rows.append(tuple(row))
        if len(rows) >= CHUNK_ROWS:
            flush()
    if rows:
        flush()


def _child(spec: dict) -> None:
    builder = SparkSession.builder.appName("cdp-reader")
    for key, value in spec["config"].items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    try:
        spark.sql(f"use {spec['schema']}")
        with duckdb.connect(spec["out"]) as con:
            for name, sql in spec["queries"].items():
                if spec["optional"] and not spark.catalog.tableExists(f"{spec['schema']}.{name}"):
                    continue
                _write(con, name, spark.sql(sql))
    finally:
        spark.stop()


if __name__ == "__main__":
    _child(json.loads(sys.stdin.read()))
