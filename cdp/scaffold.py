"""`cdp new-source`: the four files a new raw source needs, written from one short description: its entry in
the source registry (`vars.raw_sources` in dbt_project.yml), its sources YAML, and its base_ and stg_ models
with their YAML. Everything else (registration, staging bookkeeping, row counts, quarantine, identity,
profiles, orders, GX checks) derives from the registry entry. The generated SQL is a starting point to edit:
it types every column as text, normalises the email and phone it was told about, and quarantines rows
without a key or with an unparseable timestamp or amount."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ScaffoldError(ValueError):
    """A description that cannot make a source (the message says which option to change)."""


@dataclass(frozen=True)
class SourceSpec:
    """One raw source. name: the file `<name>.csv` and the registry's source_name; source and entity name the
    models (base_<source>__<entity>, stg_<source>__<entity>); key: the raw record key (none: rows are keyed
    by their hash); timestamp: when a row happened (the latest version wins, the as-of cut reads it);
    email/phone: identifier columns; order_amount: each staged row is a paid order of this amount (in the
    reporting currency), placed at `timestamp`."""

    name: str
    columns: list[str]
    timestamp: str
    key: str | None = None
    email: str | None = None
    phone: str | None = None
    order_amount: str | None = None
    source: str = ""
    entity: str = ""
    identifiers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        source, _, entity = self.name.partition("_")
        object.__setattr__(self, "source", self.source or source)
        object.__setattr__(self, "entity", self.entity or entity or self.name)
        for label, value in [("NAME", self.name), ("--source", self.source), ("--entity", self.entity),
                             *(("--columns", c) for c in self.columns)]:
            if not NAME.match(value):
                raise ScaffoldError(f"{label} {value!r}: use lower-case letters, digits and underscores")
        if len(set(self.columns)) != len(self.columns):
            raise ScaffoldError("--columns names a column twice")
        for label, value in [("--key", self.key), ("--timestamp", self.timestamp), ("--email", self.email),
                             ("--phone", self.phone), ("--order-amount", self.order_amount)]:
            if value is not None and value not in self.columns:
                raise ScaffoldError(f"{label} {value!r} is not one of --columns")
        identifiers = {kind: column for kind, column in (("email", self.email), ("phone", self.phone)) if column}
        object.__setattr__(self, "identifiers", identifiers)

    @property
    def base(self) -> str:
        return f"base_{self.source}__{self.entity}"

    @property
    def model(self) -> str:
        return f"stg_{self.source}__{self.entity}"

    @property
    def record_id(self) -> str:
        return f"{self.source}_{self.entity.removesuffix('s')}_id"

    def staged_name(self, column: str) -> str:
        """The staged column of a raw column: the key becomes the record id, identifiers keep their type."""
        if column == self.key:
            return self.record_id
        return next((kind for kind, raw in self.identifiers.items() if raw == column), column)


def registry_entry(spec: SourceSpec) -> str:
    """The entry's lines for vars.raw_sources, in the flow style of the entries around it."""
    parts = [f"source_name: {spec.name}, source: {spec.source}, base: {spec.base}, model: {spec.model}",
             f"raw_columns: [{', '.join(spec.columns)}]"]
    keys = [f"raw_key: {spec.key}"] if spec.key else []
    keys += [f"record_id: {spec.record_id}", f"latest_by: [{spec.timestamp}]"]
    if spec.identifiers:
        keys.append(f"quality: [{', '.join(spec.identifiers)}]")
    parts.append(", ".join(keys))
    if spec.identifiers:
        pairs = ", ".join(f"{kind}: {kind}" for kind in spec.identifiers)
        parts.append(f"observed_at: {spec.timestamp}, identifiers: {{{pairs}}}, attributes: {{{pairs}}}")
    if spec.order_amount:
        parts.append(f"orders: {{amount: {spec.order_amount}, ordered_at: {spec.timestamp}, is_revenue: 'true'}}")
    return "    - {" + ",\n       ".join(parts) + "}\n"


def add_registry_entry(project_yml: Path, spec: SourceSpec) -> None:
    """Append the entry at the end of vars.raw_sources, keeping the file's comments and layout."""
    lines = project_yml.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "  raw_sources:"), None)
    if start is None:
        raise ScaffoldError(f"{project_yml}: no vars.raw_sources list")
    registered = yaml.safe_load("".join(lines))["vars"]["raw_sources"]
    if any(s["source_name"] == spec.name for s in registered):
        raise ScaffoldError(f"a source named {spec.name!r} is already in vars.raw_sources")
    if any(s["base"] == spec.base for s in registered):
        raise ScaffoldError(f"{spec.base} already exists: choose another --source or --entity")
    end = next(i for i in range(start + 1, len(lines) + 1)
               if i == len(lines) or (lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) < 4))
    while lines[end - 1].lstrip().startswith("#"):  # a comment that opens the next var stays with it
        end -= 1
    lines.insert(end, registry_entry(spec))
    project_yml.write_text("".join(lines), encoding="utf-8")


def raw_doc(spec: SourceSpec, column: str) -> str:
    if column in spec.identifiers.values():
        return "raw_email" if column == spec.email else "raw_phone"
    return "raw_timestamp" if column == spec.timestamp else ""


def sources_yml(spec: SourceSpec) -> str:
    columns = []
    for column in spec.columns:
        doc = raw_doc(spec, column)
        column_yml = {"name": column, "description": f'{{{{ doc("{doc}") }}}}' if doc else f"Raw `{column}` (describe it)."}
        if column in spec.identifiers.values():
            column_yml["meta"] = {"pii": True}
        columns.append(column_yml)
    table = {"name": spec.name, "description": f"`{spec.name}.csv` (describe one row).",
             "config": {"loaded_at_query": "select max(modified_at) from raw.raw_file_modified "
                                           f"where source_name = '{spec.name}'"},
             "columns": columns}
    source = {"name": spec.source, "description": '{{ doc("raw_source_folder") }}', "schema": "raw",
              "config": {"freshness": {"warn_after": {"count": 1, "period": "day"},
                                       "error_after": {"count": 7, "period": "day"}}},
              "tables": [table]}
    return yaml.safe_dump({"version": 2, "sources": [source]}, sort_keys=False, width=120)


def typed_column(spec: SourceSpec, column: str) -> str:
    if column == spec.email:
        return "{{ normalised_email('source._email_quality', 'source._email_candidate') }} as email,\n" \
               "        source._email_quality as email_quality"
    if column == spec.phone:
        return "{{ normalised_phone('source._phone_quality', 'source._phone_e164') }} as phone,\n" \
               "        source._phone_quality as phone_quality"
    if column == spec.timestamp:
        return f"{{{{ cdp_parse_timestamp('source.{column}') }}}} as {column}"
    if column == spec.order_amount:
        return f"source._{column} as {column}"
    return f"{{{{ clean_text('source.{column}') }}}} as {spec.staged_name(column)}"


def base_sql(spec: SourceSpec) -> str:
    points = [f"{kind}='{column}'" for kind, column in spec.identifiers.items()]
    extra = (f", extra={{'_{spec.order_amount}': cdp_try_cast('trim(source.{spec.order_amount})', "
             f"cdp_type_amount())}}") if spec.order_amount else ""
    typed_from = "contact_points" if points or extra else "source"
    ctes = (f"{{{{ contact_point_ctes('source', {', '.join(points)}{extra}) }}}},\n\n"
            if points or extra else "")
    checks = [f"('{spec.record_id} is null', 'missing_key')"] if spec.key else []
    checks.append(f"('{spec.timestamp} is null', 'unparseable_{spec.timestamp}')")
    if spec.order_amount:
        checks.append(f"('{spec.order_amount} is null', 'unparseable_{spec.order_amount}')")
    typed = ",\n        ".join(typed_column(spec, c) for c in spec.columns)
    record_id = "" if spec.key else f",\n        _raw_row_hash as {spec.record_id}"
    return f"""{{#- {spec.name}: every raw row typed and normalised, with its fate (registry entry {spec.name}). -#}}
{{%- set raw_columns = raw_source('{spec.name}').raw_columns -%}}
{{{{ incremental_staging_config('{spec.name}') }}}}
with source as (
    select * from {{{{ source('{spec.source}', '{spec.name}') }}}} as source
    {{{{ raw_rows_to_stage() }}}}
),

{ctes}typed as (
    select
        {typed},
        {{{{ raw_row_columns(raw_columns) }}}}
    from {typed_from} as source
),

checked as (
    select
        *,
        {{{{ first_failing_reason([
            {(',' + chr(10) + '            ').join(checks)},
        ]) }}}} as _quarantine_reason
    from typed
),

final as (
    select
        *,
        {{{{ row_fate_for('{spec.name}') }}}} as _row_fate,
        {{{{ staged_as_of() }}}} as _staged_as_of,
        {{{{ staged_at() }}}} as _staged_at{record_id}
    from checked
)

select * from final
"""


def stg_columns(spec: SourceSpec) -> list[str]:
    staged = [spec.staged_name(c) for c in spec.columns]
    return staged if spec.key else [spec.record_id, *staged]


def stg_sql(spec: SourceSpec) -> str:
    return f"""{{#- The current rows of {spec.name}, one per {spec.record_id}. -#}}
with {spec.entity} as (
    select * from {{{{ ref('{spec.base}') }}}}
),

final as (
    select
        {(',' + chr(10) + '        ').join(stg_columns(spec))}
    from {spec.entity}
    where _row_fate = 'staged'
)

select * from final
"""


def models_yml(spec: SourceSpec) -> str:
    def column(name: str) -> dict:
        entry: dict = {"name": name, "description": f"`{name}` (describe it)."}
        if name in spec.identifiers:
            entry["meta"] = {"pii": True}
        return entry

    base_columns = [column(c) for c in stg_columns(spec)]
    base_columns += [{"name": f"{kind}_quality", "description": f'{{{{ doc("{kind}_quality") }}}}'}
                     for kind in spec.identifiers]
    base_columns += [{"name": n, "description": f'{{{{ doc("base{n}") }}}}'}
                     for n in ("_raw_row", "_raw_row_hash", "_quarantine_reason", "_row_fate", "_staged_as_of",
                               "_staged_at")]
    base_columns[-6]["meta"] = {"pii": True}
    stg = [column(c) for c in stg_columns(spec)]
    stg[[c["name"] for c in stg].index(spec.record_id)]["data_tests"] = ["unique", "not_null"]
    return yaml.safe_dump({"version": 2, "models": [
        {"name": spec.base, "description": f"Every raw {spec.name} row, typed, with quarantine reason and fate.",
         "columns": base_columns},
        {"name": spec.model, "description": f"The current {spec.name} rows.", "columns": stg}]},
        sort_keys=False, width=120)


def scaffold_source(project_dir: Path, spec: SourceSpec) -> list[Path]:
    """Writes the source's files and its registry entry; refuses to overwrite anything."""
    folder = project_dir / "models" / "staging" / spec.source
    files = {folder / f"_{spec.source}__sources.yml": sources_yml(spec),
             folder / f"_{spec.source}__models.yml": models_yml(spec),
             folder / "base" / f"{spec.base}.sql": base_sql(spec),
             folder / f"{spec.model}.sql": stg_sql(spec)}
    existing = [str(p.relative_to(project_dir)) for p in files if p.exists()]
    if existing:
        raise ScaffoldError(f"{', '.join(existing)} already exist: choose another --source or add the table by hand")
    add_registry_entry(project_dir / "dbt_project.yml", spec)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [project_dir / "dbt_project.yml", *files]
