"""The Markdown reference of sync/syncs.yml, generated from its JSON Schema (sync/config_schema.py) so the
two never disagree: `python -m sync.reference > docs/sync-reference.md` (a test checks the committed file
is current)."""

from __future__ import annotations

import sys

from sync.config_schema import FIELD_SCHEMA, JOURNEY_SCHEMA, PERCENT_PATTERN, SCHEMA, SYNC_SCHEMA


def _type(spec: dict) -> str:
    if "enum" in spec:
        return " \\| ".join(f"`{v}`" for v in spec["enum"])
    if spec is FIELD_SCHEMA:
        return "string \\| field object"
    if spec.get("pattern") == PERCENT_PATTERN:
        return "number (>= 0) \\| percentage (`5%`)"
    kind = spec.get("type", "")
    if kind == "array":
        items = spec.get("items", {})
        return "list of journeys" if items is JOURNEY_SCHEMA else f"list of {items.get('type', 'values')}"
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return f"map of {_type(spec['additionalProperties'])}"
    limits = [f"{'>=' if k == 'minimum' else '<='} {spec[k]}" for k in ("minimum", "maximum") if k in spec]
    return kind + (f" ({', '.join(limits)})" if limits else "")


def _table(schema: dict) -> list[str]:
    required = set(schema.get("required", []))
    lines = ["| property | type | required | description |", "| --- | --- | --- | --- |"]
    for name, spec in schema["properties"].items():
        description = " ".join(spec["description"].split()).replace("|", "\\|")
        lines.append(f"| `{name}` | {_type(spec)} | {'yes' if name in required else ''} | {description} |")
    return lines


def render() -> str:
    out = ["# syncs.yml reference", "",
           "Generated from the JSON Schema in `sync/config_schema.py` by `python -m sync.reference`; do not "
           "edit by hand.", "", SCHEMA["description"], "",
           "A file is validated before anything runs; every problem is reported as `file:line:column: "
           "message`.", "", "## A sync (an item of `syncs`)", "", SYNC_SCHEMA["description"], "",
           *_table(SYNC_SCHEMA), "", "## A field object (a value of a sync's `fields`)", "",
           FIELD_SCHEMA["description"], "", *_table(FIELD_SCHEMA), "",
           "## A journey (an item of a sync's `journeys`)", "",
           JOURNEY_SCHEMA["description"], "", *_table(JOURNEY_SCHEMA), ""]
    return "\n".join(out)


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
