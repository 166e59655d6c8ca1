"""Sync declarations (sync/syncs.yml) as typed objects, validated against their JSON Schema
(sync/config_schema.py) before use.

Every problem is reported with the file, line and column of the offending key or value (unknown keys,
wrong types, unknown destination or model, `max_clear_share` outside 0-1), all at once, as a ConfigError;
nothing is sent when the file is wrong."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

from sync.config_schema import ANY, EVENT_COLUMNS, EVENT_KINDS, JOURNEY_FIELD, SCHEMA
from sync.destinations.registry import default_on_delete, resolve
from sync.values import Tolerance, parse_tolerance

DEFAULT_CONFIG = Path(__file__).with_name("syncs.yml")
PROJECT_DIR = Path(__file__).resolve().parents[1]


class ConfigError(ValueError):
    """The sync configuration is wrong; the message says where (file:line:column)."""


@dataclass(frozen=True)
class Journey:
    """Which events of an events sync go to its destination: a stage change (from/to a stage, either may
    be `any`; a person seen for the first time has no from-stage and matches only `any`) or a segment
    entry/exit (a segment name or `any`), with the payload fields it sends (default: all of the sync's)."""
    name: str
    event: str
    from_stage: str = ANY
    to_stage: str = ANY
    segment: str = ANY
    fields: tuple[str, ...] = ()
    description: str = ""

    def matches(self, event_type: str | None, from_stage: str | None, to_stage: str | None,
                segment: str | None) -> bool:
        if event_type != self.event:
            return False
        if self.event == "stage_changed":
            return self.from_stage in (ANY, from_stage) and self.to_stage in (ANY, to_stage)
        return self.segment in (ANY, segment)


@dataclass(frozen=True)
class SyncConfig:
    name: str
    model: str
    destination: str
    object: str
    key: str
    match_key: str
    fields: dict[str, str]
    mode: str = "upsert"
    on_delete: str | None = None  # archive | clear | keep; None: archive for CRMs, clear for mirror mode
    batch_size: int = 100
    rate_limit: float = 10.0
    rate_limit_budget_s: float = 300.0
    exclude_opted_out: bool = False
    max_clear_share: float = 0.2
    max_failed_share: float = 0.05
    description: str = ""
    custom_properties: list[str] = field(default_factory=list)
    custom_property_types: dict[str, str] = field(default_factory=dict)  # older name of property_types (still read)
    bulk_threshold: int = 0  # at least this many upserts in a run go through the bulk API (0: never)
    property_types: dict[str, str] = field(default_factory=dict)  # destination field -> PROPERTY_TYPES
    purpose: str = "operational"  # marketing: events only to subscribed addresses (checked at delivery)
    backfill: bool = False  # events syncs: send the events that existed before the first run too
    journeys: tuple[Journey, ...] = ()  # events syncs: first matching journey routes an event
    rounding: dict[str, int] = field(default_factory=dict)  # destination field -> decimal places sent
    tolerances: dict[str, Tolerance] = field(default_factory=dict)  # destination field -> drift not sent

    def journey_for(self, row: dict) -> Journey | None:
        """The first journey that matches an events-model row, or None (the event is not routed here)."""
        return next((j for j in self.journeys if j.matches(row.get("event_type"), row.get("from_stage"),
                                                          row.get("to_stage"), row.get("segment_name"))), None)

    def property_type(self, prop: str) -> str:
        return self.property_types.get(prop) or self.custom_property_types.get(prop) or "string"

    @property
    def removal(self) -> str:
        """What happens at the destination to a record that left the model."""
        if self.on_delete:
            return self.on_delete
        if self.mode == "mirror":
            return "clear"
        return default_on_delete(self.destination)  # the destination's own default (a CRM archives)

    @property
    def columns(self) -> list[str]:
        """Model columns read: the key, the mapped fields and, for opt-out checks, email_consent (events
        syncs: also the match key and the event columns journeys route on)."""
        if self.mode == "events":
            read = [c for c in self.fields.values() if c != JOURNEY_FIELD]
            return list(dict.fromkeys([self.key, *read, self.match_key, *EVENT_COLUMNS]))
        cols = dict.fromkeys([self.key, *self.fields.values()])
        if self.exclude_opted_out:
            cols["email_consent"] = None
        return list(cols)


def _node_at(root: yaml.Node | None, path: list) -> yaml.Node | None:
    """The YAML node at a jsonschema error path (for its line); the deepest node that exists."""
    node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is None:
            return node
        node = nxt
    return node


def _key_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((k for k, _ in node.value if k.value == key), None)
    return None


def _where(path: Path, node: yaml.Node | None) -> str:
    if node is None:
        return str(path)
    return f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def known_models(project_dir: Path = PROJECT_DIR) -> set[str] | None:
    """Model names of the dbt project (file stems under models/), or None when there is no project here."""
    models = project_dir / "models"
    if not models.is_dir():
        return None
    return {p.stem for p in models.rglob("*.sql")}


def journey_vocabulary(project_dir: Path = PROJECT_DIR) -> tuple[set[str], set[str]] | None:
    """(stage names, segment names) of the dbt project's vars journey_stages and segments (plus the stage
    `unclassified`), or None when there is no dbt project here."""
    try:
        project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    v = project.get("vars") or {}
    stages = {r.get("name") for r in v.get("journey_stages") or [] if isinstance(r, dict)} | {"unclassified"}
    segments = {r.get("name") for r in v.get("segments") or [] if isinstance(r, dict)}
    return {s for s in stages if s}, {s for s in segments if s}


def _check_events(entry: dict, i: int, root: yaml.Node | None, path: Path,
                  vocabulary: tuple[set[str], set[str]] | None) -> list[tuple[int, str]]:
    """Checks beyond the schema for journeys: they belong to events syncs, name known stages and segments,
    and select payload fields the sync declares."""
    problems: list[tuple[int, str]] = []

    def at(where: list, message: str) -> None:
        node = _node_at(root, ["syncs", i, *where])
        problems.append((node.start_mark.line if node is not None else 0, f"{_where(path, node)}: {message}"))

    events = entry.get("mode") == "events"
    journeys = entry.get("journeys")
    if not events:
        for key in ("journeys", "backfill"):
            if key in entry:
                node = _key_node(_node_at(root, ["syncs", i]), key)
                problems.append((node.start_mark.line if node is not None else 0,
                                 f"{_where(path, node)}: {key!r} applies to mode: events only"))
        return problems
    if not journeys:
        at(["mode"], "mode events needs `journeys` (which events go to this destination)")
        return problems
    if not isinstance(journeys, list):
        return problems
    dest = entry.get("destination")
    cls = resolve(dest) if isinstance(dest, str) else None
    if cls is not None and not hasattr(cls, "send_events"):
        at(["destination"], f"destination {dest!r} cannot receive events (it has no send_events)")
    fields = entry.get("fields") if isinstance(entry.get("fields"), dict) else {}
    stages, segments = vocabulary or (None, None)
    seen: set[str] = set()
    for j, journey in enumerate(journeys):
        if not isinstance(journey, dict):
            continue
        if journey.get("name") in seen:
            at(["journeys", j, "name"], f"journey {journey.get('name')} declared twice")
        seen.add(journey.get("name"))
        kind = journey.get("event")
        stage_keys, segment_keys = ("from_stage", "to_stage"), ("segment",)
        for key in segment_keys if kind == "stage_changed" else stage_keys if kind in EVENT_KINDS else ():
            if key in journey:
                at(["journeys", j, key], f"{key!r} does not apply to event {kind}")
        for key in stage_keys if kind == "stage_changed" and stages is not None else ():
            value = journey.get(key)
            if isinstance(value, str) and value not in stages | {ANY}:
                at(["journeys", j, key], f"unknown journey stage {value!r} (vars journey_stages); known: "
                                         f"{', '.join(sorted(stages))}, any")
        value = journey.get("segment")
        if kind in ("segment_entered", "segment_exited"):
            if value is None:
                at(["journeys", j], f"journey {journey.get('name')}: event {kind} needs `segment` (a name or any)")
            elif isinstance(value, str) and segments is not None and value not in segments | {ANY}:
                at(["journeys", j, "segment"], f"unknown segment {value!r} (vars segments); known: "
                                               f"{', '.join(sorted(segments))}, any")
        for k, name in enumerate(journey.get("fields") or []):
            if isinstance(name, str) and name not in fields:
                at(["journeys", j, "fields", k], f"payload field {name!r} is not among the sync's fields")
    return problems


NUMBER_RULES = ("round", "tolerance")


def _check_fields(entry: dict, i: int, root: yaml.Node | None, path: Path) -> list[tuple[int, str]]:
    """Rounding and tolerances apply to number fields of record syncs: anywhere else they would silently do
    nothing (or compare text as numbers), so each is a one-line error at its key."""
    problems: list[tuple[int, str]] = []
    fields = entry.get("fields") if isinstance(entry.get("fields"), dict) else {}
    types = {k: v for key in ("custom_property_types", "property_types")
             if isinstance(entry.get(key), dict) for k, v in entry[key].items()}
    for dest, spec in fields.items():
        if not isinstance(spec, dict):
            continue
        for rule in (r for r in NUMBER_RULES if r in spec):
            node = _key_node(_node_at(root, ["syncs", i, "fields", dest]), rule)
            kind = types.get(dest, "string")
            if entry.get("mode") == "events":
                message = f"field {dest}: {rule} applies to record syncs only (an event is sent once, as it is)"
            elif kind != "number":
                message = (f"field {dest}: {rule} applies to number fields only (property_types gives {dest} "
                           f"type {kind}; declare it number, or drop the {rule})")
            else:
                continue
            problems.append((node.start_mark.line if node is not None else 0, f"{_where(path, node)}: {message}"))
    return problems


def _build(entry: dict) -> SyncConfig:
    entry = dict(entry)
    specs = {dest: spec for dest, spec in entry["fields"].items() if isinstance(spec, dict)}
    entry["fields"] = {dest: spec["column"] if isinstance(spec, dict) else spec
                       for dest, spec in entry["fields"].items()}
    entry["rounding"] = {dest: spec["round"] for dest, spec in specs.items() if "round" in spec}
    entry["tolerances"] = {dest: parse_tolerance(spec["tolerance"]) for dest, spec in specs.items()
                           if "tolerance" in spec}
    entry["journeys"] = tuple(Journey(**{**j, "fields": tuple(j.get("fields") or ())})
                              for j in entry.get("journeys") or [])
    return SyncConfig(**entry)


def parse_syncs(text: str, path: Path, models: set[str] | None = None,
                vocabulary: tuple[set[str], set[str]] | None = None) -> dict[str, SyncConfig]:
    try:
        root = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    raw = {} if raw is None else raw
    problems: list[tuple[int, str]] = []
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for err in validator.iter_errors(raw):
        node = _node_at(root, list(err.absolute_path))
        message = err.message
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            node = _key_node(node, extra[0]) or node if extra else node
            message = f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}"
        elif err.validator == "enum":
            message = f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
        elif err.validator in ("minimum", "maximum"):
            lo = err.schema.get("minimum")
            hi = err.schema.get("maximum")
            name = err.absolute_path[-1] if err.absolute_path else "value"
            message = (f"{name} = {err.instance} is outside {lo}..{hi}" if hi is not None
                       else f"{name} = {err.instance} is negative (it must be at least {lo})")
        elif err.validator == "pattern" and err.absolute_path and err.absolute_path[-1] == "tolerance":
            message = (f"tolerance {err.instance!r} is neither a number (absolute) nor a percentage such as "
                       f"'5%' (relative to the value last delivered)")
        elif err.validator == "type" and len(err.absolute_path) == 4 and err.absolute_path[2] == "fields":
            message = (f"field {err.absolute_path[-1]}: {err.instance!r} is neither a model column nor a field "
                       f"object ({{column: ..., round: ..., tolerance: ...}})")
        line = node.start_mark.line if node is not None else 0
        problems.append((line, f"{_where(path, node)}: {message}"))
    entries = raw.get("syncs", []) if isinstance(raw, dict) else []
    seen: set[str] = set()
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict):
            continue
        name = entry.get("name")
        if isinstance(name, str):
            if name in seen:
                node = _node_at(root, ["syncs", i, "name"])
                problems.append((node.start_mark.line, f"{_where(path, node)}: sync {name} declared twice"))
            seen.add(name)
        destination = entry.get("destination")
        if isinstance(destination, str):
            if resolve(destination) is None:
                node = _node_at(root, ["syncs", i, "destination"])
                problems.append((node.start_mark.line, f"{_where(path, node)}: unknown destination {destination!r} "
                                                       f"(no sync/destinations/{destination}.py with DESTINATION, "
                                                       "nor a package.module:Class)"))
        model = entry.get("model")
        if models is not None and isinstance(model, str) and model not in models:
            node = _node_at(root, ["syncs", i, "model"])
            problems.append((node.start_mark.line, f"{_where(path, node)}: unknown model {model!r} "
                                                   f"(no models/**/{model}.sql in the dbt project)"))
        problems += _check_events(entry, i, root, path, vocabulary)
        problems += _check_fields(entry, i, root, path)
    if problems:
        raise ConfigError("\n".join(m for _, m in sorted(problems)))
    return {e["name"]: _build(e) for e in entries}


def syncs_path(path: Path | None = None) -> Path:
    return Path(os.environ.get("CDP_SYNCS_FILE") or path or DEFAULT_CONFIG)


def load_syncs(path: Path | None = None) -> dict[str, SyncConfig]:
    path = syncs_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sync configuration ({exc.strerror})") from None
    return parse_syncs(text, path, known_models(), journey_vocabulary())


def declared_entries(path: Path | None = None) -> list[dict[str, str]]:
    """name, model, destination and description of each sync as written, even when the file is otherwise
    invalid, so an orchestrator can list one asset per sync and fail only those when the file is wrong."""
    try:
        raw = yaml.safe_load(syncs_path(path).read_text(encoding="utf-8")) or {}
        entries = raw.get("syncs", [])
    except (OSError, yaml.YAMLError, AttributeError, TypeError):
        return []
    out = []
    for e in entries if isinstance(entries, list) else []:
        if isinstance(e, dict) and isinstance(e.get("name"), str):
            out.append({k: str(e.get(k) or "") for k in ("name", "model", "destination", "description", "mode")})
    return out
