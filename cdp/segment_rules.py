"""Segments (var `segments` in dbt_project.yml) are data that dbt pastes into SQL: a name becomes a string
literal and a condition the WHERE clause of segment_memberships. They are checked here before dbt runs
anything, with `file:line:col` messages: a name is an identifier; a condition is one SQL expression over
known customer_profiles columns (no `;`, no comment, no parenthesis that closes what it did not open, no
statement keyword, no quoted identifier) that DuckDB's parser accepts. The dbt models repeat the checks
(macros/profiles/segment_rules.sql) for plain `dbt build`, naming the segment but not the line."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
LITERAL = re.compile(r"'(?:[^']|'')*'")
WORD = re.compile(r"(?<![0-9.])\b([A-Za-z_][A-Za-z0-9_]*)\b(\s*\()?")
# words of one boolean expression that are not column names
EXPRESSION_WORDS = {"and", "or", "not", "is", "null", "in", "between", "like", "ilike", "case", "when", "then",
                    "else", "end", "true", "false", "interval", "as", "day", "days", "distinct", "double", "bigint",
                    "int", "integer", "varchar", "string", "date", "timestamp", "decimal", "current_date",
                    "current_timestamp"}
# words that only a statement, a subquery or a second CTE would need
STATEMENT_WORDS = {"select", "from", "with", "union", "intersect", "except", "drop", "create", "alter", "insert",
                   "update", "delete", "merge", "attach", "detach", "copy", "pragma", "call", "install", "load",
                   "set", "reset", "export", "import", "truncate", "grant", "revoke", "vacuum", "checkpoint",
                   "execute", "prepare", "deallocate", "into", "table", "view", "schema", "database", "returning",
                   "exists", "limit", "offset", "order", "group", "having", "window", "qualify", "values"}
# functions that read files, the environment or run SQL text
FORBIDDEN_FUNCTIONS = re.compile(r"^(read_\w+|query|query_table|getenv|glob|sniff_csv|parquet_\w+|current_setting)$")
# customer_profiles columns a segment cannot see: they are computed from the segments, or after them
NOT_SEGMENT_COLUMNS = {"segments", "segment_count", "journey_stage", "next_best_action", "next_best_action_reason",
                       "avg_order_gap_days", "previous_order_gap_days"}


@dataclass(frozen=True)
class SegmentProblem:
    path: Path
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line}:{self.column}: {self.message}"


def known_columns(project_dir: Path) -> set[str]:
    """customer_profiles' contract columns (models/marts/profiles/_profiles__models.yml) a segment can see."""
    doc = yaml.safe_load((project_dir / "models/marts/profiles/_profiles__models.yml").read_text(encoding="utf-8"))
    model = next(m for m in doc["models"] if m["name"] == "customer_profiles")
    return {c["name"].lower() for c in model["columns"]} - NOT_SEGMENT_COLUMNS


def _segment_nodes(project_file: Path) -> yaml.SequenceNode | None:
    root = yaml.compose(project_file.read_text(encoding="utf-8"))
    for key, value in getattr(root, "value", []):
        if key.value == "vars" and isinstance(value, yaml.MappingNode):
            for vkey, vvalue in value.value:
                if vkey.value == "segments":
                    return vvalue
    return None


def _position(node: yaml.Node, offset: int | None) -> tuple[int, int]:
    """Line and column (1-based) of `offset` in a scalar's text: exact on a one-line scalar, else its start."""
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if offset is None or node.start_mark.line != node.end_mark.line:
        return line, column
    quoted = getattr(node, "style", None) in ("'", '"')
    return line, column + offset + (1 if quoted else 0)


def _parse_error(condition: str) -> str | None:
    """DuckDB's parser on the condition as the WHERE clause of one query (nothing executed, no warehouse)."""
    probe = f"select 1 from customer_profiles where ({condition}\n)"
    with duckdb.connect() as con:
        parsed = json.loads(con.execute("select json_serialize_sql(?)", [probe]).fetchone()[0])
    if parsed.get("error"):
        return parsed.get("error_message") or "syntax error"
    if len(parsed.get("statements", [])) != 1:
        return "more than one statement"
    return None


def condition_problems(condition: str, columns: set[str]) -> Iterator[tuple[int | None, str]]:
    """(offset in the condition or None, what is wrong) for each problem, structural ones first: a condition
    that could end the query is not handed to the parser."""
    text = LITERAL.sub(lambda m: " " * len(m.group(0)), condition)
    for token, why in ((";", "a ';' would end the statement"), ("--", "a comment would hide the rest of the query"),
                       ("/*", "a comment would hide the rest of the query"), ('"', "quoted identifiers are not allowed"),
                       ("'", "unterminated quoted string")):
        if token in text:
            yield text.index(token), f"{why} ({token!r})"
            return
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            yield i, "')' closes a parenthesis the condition did not open (it would end the query around it)"
            return
    if depth:
        yield None, "unbalanced parentheses"
        return
    found = False
    for match in WORD.finditer(text):
        word = match.group(1).lower()
        if word in STATEMENT_WORDS:
            yield match.start(1), f"'{word}' belongs to a statement, not to one expression"
            found = True
        elif match.group(2) and FORBIDDEN_FUNCTIONS.match(word):
            yield match.start(1), f"function {word}() is not allowed in a segment condition"
            found = True
        elif not match.group(2) and word not in EXPRESSION_WORDS and word not in columns:
            yield match.start(1), f"unknown column '{word}' (not a customer_profiles column a segment can see)"
            found = True
    if not found and (error := _parse_error(condition)):
        yield None, f"does not parse: {error.splitlines()[0]}"


def check_segments(project_dir: Path) -> list[SegmentProblem]:
    """Every problem of vars.segments in project_dir/dbt_project.yml, with its line and column."""
    project_file = project_dir / "dbt_project.yml"
    node = _segment_nodes(project_file)
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        return [SegmentProblem(project_file, *_position(node, None), "vars.segments must be a list")]
    columns = known_columns(project_dir)
    problems: list[SegmentProblem] = []
    names: set[str] = set()
    for index, item in enumerate(node.value, start=1):
        fields = {k.value: v for k, v in item.value} if isinstance(item, yaml.MappingNode) else {}
        name_node, condition_node = fields.get("name"), fields.get("condition")
        if not isinstance(name_node, yaml.ScalarNode) or not isinstance(condition_node, yaml.ScalarNode):
            problems.append(SegmentProblem(project_file, *_position(item, None),
                                           f"segment #{index} needs a name and a condition"))
            continue
        name = name_node.value
        if not NAME_PATTERN.match(name):
            problems.append(SegmentProblem(project_file, *_position(name_node, None),
                                           f"segment #{index}: the name must be an identifier (a-z, 0-9, _; "
                                           f"starting with a letter; at most 63 characters)"))
            continue
        if name in names:
            problems.append(SegmentProblem(project_file, *_position(name_node, None),
                                           f"segment '{name}': the name is repeated"))
        names.add(name)
        for offset, why in condition_problems(condition_node.value, columns):
            problems.append(SegmentProblem(project_file, *_position(condition_node, offset),
                                           f"segment '{name}': condition: {why}"))
    return problems


def refuse_bad_segments(project_dir: Path) -> bool:
    """Print each problem of vars.segments (stderr) and return True when there is one: the caller stops
    before dbt runs anything."""
    problems = check_segments(project_dir)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return bool(problems)
