"""An asset that turns the warehouse into what an operator reads in the UI: rows per source, quarantine,
identity statistics with a cluster-size histogram."""


import os
from urllib.parse import urlsplit

import dagster as dg

from cdp.report import LOAD_SUMMARY_SQL, markdown_table, query
from orchestration.resources import WarehouseResource

HISTOGRAM_SQL = """
    select case when record_count = 1 then '1' when record_count <= 3 then '2-3' when record_count <= 10 then '4-10'
                when record_count <= 30 then '11-30' else '31+' end as records_per_person,
           count(*) as persons
    from customer_profiles group by 1 order by min(record_count)
"""


def crm_sandbox_page() -> str | None:
    """The local CRM sandbox's page when the syncs go to it (a loopback URL carries no secret)."""
    url = os.environ.get("HUBSPOT_BASE_URL", "")
    parts = urlsplit(url)
    if parts.hostname == "127.0.0.1" and not parts.username and not parts.query:
        return f"{parts.scheme}://{parts.netloc}/"
    return None


@dg.asset(
    deps=[dg.AssetKey(["source_row_counts"]), dg.AssetKey(["quarantine"]), dg.AssetKey(["customer_profiles"]),
          dg.AssetKey(["person_id_history"]), dg.AssetKey(["identity_merge_rule_drops"])],
    group_name="quality", kinds={"duckdb"}, owners=["team:data-ops"],
    description="Run report: rows loaded, staged and quarantined per source; persons, merges, largest "
                "cluster and cluster-size histogram.",
)
def run_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
    db = warehouse.path
    cols, rows = query(db, LOAD_SUMMARY_SQL)
    _, (stats,) = query(db, """
        select (select count(*) from customer_profiles),
               (select max(record_count) from customer_profiles),
               (select count(*) from person_id_history
                 where changed_at = (select max(changed_at) from person_id_history) and change_type = 'merge'),
               (select count(*) from quarantine),
               (select count(*) from identity_merge_rule_drops)""")
    hist_cols, hist = query(db, HISTOGRAM_SQL)
    qcols, qrows = query(db, "select source_name, quarantine_reason, count(*) as row_count from quarantine "
                             "group by all order by 1, 3 desc")
    links = {"crm_sandbox_page": dg.MetadataValue.url(page)} if (page := crm_sandbox_page()) else {}
    return dg.MaterializeResult(metadata={**links,
        "persons": int(stats[0]), "largest_cluster_records": int(stats[1] or 0),
        "merges_latest_run": int(stats[2]), "quarantined_rows": int(stats[3]),
        "identifiers_not_used_for_merging": int(stats[4]),
        "rows_per_source": dg.MetadataValue.md(markdown_table(cols, rows)),
        "quarantine_reasons": dg.MetadataValue.md(markdown_table(qcols, qrows)),
        "cluster_size_histogram": dg.MetadataValue.md(markdown_table(hist_cols, hist)),
    })
