"""Small pure functions that build dbt command lines, kept apart so they can be unit-tested."""

from __future__ import annotations

import json
from collections.abc import Sequence


def dbt_command(
    verb: str,
    *,
    project_dir: str,
    target: str = "duckdb",
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    vars: dict[str, object] | None = None,
    full_refresh: bool = False,
    extra: Sequence[str] = (),
) -> list[str]:
    """Arguments after `dbt`, e.g. ['build', '--project-dir', '.', '--target', 'duckdb']."""
    args = [verb, "--project-dir", project_dir, "--profiles-dir", project_dir, "--target", target]
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    if vars:
        args += ["--vars", json.dumps(vars, sort_keys=True)]
    if full_refresh:
        args.append("--full-refresh")
    args += list(extra)
    return args
