-- No row is lost: for each source, loaded = staged + superseded + duplicates + quarantined + after as-of.
select *
from {{ ref('source_row_counts') }}
where rows_loaded <> rows_staged + rows_superseded + rows_duplicate + rows_quarantined + rows_after_as_of
