"""The JSON Schema of sync/syncs.yml: every property with its type, limits and a description. The
configuration is validated against it (sync/config.py), and the Markdown reference is generated from it
(`python -m sync.reference > docs/sync-reference.md`)."""

from __future__ import annotations

MODES = ("upsert", "update_only", "mirror", "events")
ON_DELETE = ("archive", "clear", "keep")
# typed custom properties: number (money, counts), date (YYYY-MM-DD), multi_select (values joined by ";")
PROPERTY_TYPES = ("string", "number", "date", "datetime", "multi_select")  # datetime: ISO 8601 UTC
PURPOSES = ("operational", "marketing")
# events syncs (mode: events): what a journey routes, and the columns every events model has
EVENT_KINDS = ("stage_changed", "segment_entered", "segment_exited")
EVENT_COLUMNS = ("person_id", "event_type", "from_stage", "to_stage", "segment_name", "occurred_at", "email_consent")
JOURNEY_FIELD = "journey"  # pseudo column a `fields` entry may name: the matching journey's name
ANY = "any"
NAME_PATTERN = "^[a-z][a-z0-9_]*$"

JOURNEY_SCHEMA = {
    "type": "object",
    "description": "Which events of an events sync go to its destination; the first journey that matches "
                   "an event routes it.",
    "additionalProperties": False,
    "required": ["name", "event"],
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN,
                 "description": "The journey's name, unique in the sync; sent as the `journey` payload field."},
        "description": {"type": "string", "description": "What the journey is for (documentation only)."},
        "event": {"enum": list(EVENT_KINDS), "description": "The kind of event the journey routes."},
        "from_stage": {"type": "string", "description": "Stage changes only: the stage left (a name of vars "
                       "journey_stages, or `any`, which also matches a person seen for the first time)."},
        "to_stage": {"type": "string", "description": "Stage changes only: the stage entered (a name of "
                     "vars journey_stages, or `any`)."},
        "segment": {"type": "string", "description": "Segment entries and exits only (required there): the "
                    "segment (a name of vars segments, or `any`)."},
        "fields": {"type": "array", "minItems": 1, "items": {"type": "string"},
                   "description": "The payload fields this journey sends, a subset of the sync's `fields` "
                                  "(default: all of them)."},
    },
}

# a field's tolerance: an absolute number (the field's units) or a percentage of the value last delivered
PERCENT_PATTERN = "^[0-9]+(\\.[0-9]+)?%$"
FIELD_SCHEMA = {
    "type": ["string", "object"],
    "description": "A sync field: the model column it sends (a string), or an object naming the column with "
                   "rules for a number field (its property_types entry is `number`).",
    "additionalProperties": False,
    "required": ["column"],
    "properties": {
        "column": {"type": "string", "description": "The model column sent."},
        "round": {"type": "integer", "minimum": 0, "maximum": 10,
                  "description": "Decimal places the value is rounded to (half away from zero) before it is "
                                 "compared and sent; 0: whole units (e.g. whole currency units). Default: 2 decimals "
                                 "for a non-integer number."},
        "tolerance": {"type": ["number", "string"], "minimum": 0, "pattern": PERCENT_PATTERN,
                      "description": "A change is not sent while the (rounded) value differs from the value last "
                                     "delivered to this destination (sync state) by at most this much: a number "
                                     "is absolute, in the field's units (`0.02`); a percentage (`5%`) is relative "
                                     "to the value last delivered. Drift adds up against the delivered value, so "
                                     "once it passes the tolerance it is sent. A record sent for any other reason "
                                     "carries the current value; a value appearing or disappearing is always "
                                     "sent."},
    },
}

SYNC_SCHEMA = {
    "type": "object",
    "description": "One sync: a dbt model's rows sent to one destination object.",
    "additionalProperties": False,
    "required": ["name", "model", "destination", "object", "key", "match_key", "fields"],
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN,
                 "description": "The sync's name: `cdp sync run NAME`, the Dagster asset `sync_NAME`, the "
                                "key of its state and run rows."},
        "description": {"type": "string", "description": "What the sync is for (shown by `cdp sync list` "
                                                         "and on the Dagster asset)."},
        "model": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                  "description": "The dbt model read (a contract-enforced model under models/; its columns "
                                 "are the field allowlist)."},
        "destination": {"type": "string", "description": "The destination: a module of sync/destinations "
                        "(`hubspot`, `salesforce`, `webhook`) or `package.module:Class`."},
        "object": {"type": "string", "description": "The destination's object type (HubSpot `contacts`, "
                                                    "Salesforce `Contact`, a name for a webhook)."},
        "key": {"type": "string", "description": "The model column that identifies a record (person_id; "
                                                 "event_id for events syncs): the key of the sync state."},
        "match_key": {"type": "string", "description": "The field the destination matches a new record on "
                      "(HubSpot email, Salesforce's external id field, the webhook's key)."},
        "mode": {"enum": list(MODES), "description": "upsert (create and update), update_only (never "
                 "create), mirror (also clear records that left the model) or events (append-only events)."},
        "on_delete": {"enum": list(ON_DELETE), "description": "What happens to a record that left the model: "
                      "archive, clear its synced fields, or keep. Default: clear in mirror mode, else the "
                      "destination's own default (archive for HubSpot and Salesforce, keep otherwise)."},
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 10000,
                       "description": "Records per request (default 100; HubSpot takes at most 100, "
                                      "Salesforce Collections 200)."},
        "rate_limit": {"type": "number", "minimum": 0,
                       "description": "Requests per second, evenly paced (default 10; 0: no pacing)."},
        "rate_limit_budget_s": {"type": "number", "minimum": 0,
                                "description": "Seconds a run may wait on rate limits before it stops as "
                                               "rate_limit_exhausted (default 300)."},
        "exclude_opted_out": {"type": "boolean", "description": "Leave out rows whose email_consent is "
                              "unsubscribed (and remove them where they were sent). Default false."},
        "max_clear_share": {"type": "number", "minimum": 0, "maximum": 1,
                            "description": "The largest share of synced records a run may archive or clear "
                                           "(default 0.2; removals caused by consent or privacy are not "
                                           "counted); past it the run stops unless --force-clear."},
        "max_failed_share": {"type": "number", "minimum": 0, "maximum": 1,
                             "description": "The largest share of records in scope that may fail before the "
                                            "run counts as failed (default 0.05)."},
        "bulk_threshold": {"type": "integer", "minimum": 0,
                           "description": "Runs with at least this many upserts use the destination's bulk API "
                                          "(Salesforce Bulk API 2.0); 0 (default): never."},
        "fields": {"type": "object", "minProperties": 1, "additionalProperties": FIELD_SCHEMA,
                   "description": "Destination field: model column, for every field sent (events syncs may "
                                  "name the column `journey`: the matching journey's name); a number field may "
                                  "instead map to a field object with `round` and `tolerance`."},
        "custom_properties": {"type": "array", "items": {"type": "string"},
                              "description": "Destination fields the sync creates before the first write "
                                             "(HubSpot custom properties)."},
        "property_types": {"type": "object", "additionalProperties": {"enum": list(PROPERTY_TYPES)},
                           "description": "Destination field: its type (string, number, date, datetime, "
                                          "multi_select); dates are sent as YYYY-MM-DD, datetimes as ISO 8601 "
                                          "UTC."},
        "custom_property_types": {"type": "object", "additionalProperties": {"enum": list(PROPERTY_TYPES)},
                                  "description": "The older name of property_types (still read)."},
        "purpose": {"enum": list(PURPOSES), "description": "operational (default) or marketing: an events "
                    "sync for marketing sends only to addresses subscribed when the event is delivered."},
        "backfill": {"type": "boolean", "description": "Events syncs only: the first run also sends the "
                     "events already in the model (default false: they are recorded as baseline)."},
        "journeys": {"type": "array", "minItems": 1, "items": JOURNEY_SCHEMA,
                     "description": "Events syncs only (required there): the journeys that route events."},
    },
}

SCHEMA = {
    "type": "object",
    "description": "sync/syncs.yml (or the file CDP_SYNCS_FILE names): the declared syncs.",
    "additionalProperties": False,
    "required": ["syncs"],
    "properties": {"syncs": {"type": "array", "items": SYNC_SCHEMA, "description": "The syncs, in any order."}},
}
