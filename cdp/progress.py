"""What `cdp run` prints while the asset graph runs: one line per stage as it starts and ends (syncs that
succeed one after another share one line), each governance check's outcome, and warnings and errors;
Dagster's own event log only with `-v`. It is a Dagster logger, so it sees the same events the UI records."""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Mapping
from typing import TextIO

import dagster as dg

STEP_LABELS = {"cdp_dbt_staging": "dbt build: seeds and staging (with tests)",
               "cdp_dbt_assets": "dbt build: identity, profiles, quality, CRM models (with tests)",
               "run_report": "run report"}
QUIET_STEPS = ("run_report",)  # the summary printed after the run is their output; a failure still prints
DBT_STEPS = ("cdp_dbt_staging", "cdp_dbt_assets")


def step_label(step_key: str) -> str:
    if step_key in STEP_LABELS:
        return STEP_LABELS[step_key]
    if "gx_" in step_key:
        return "governance check " + step_key[step_key.index("gx_"):]
    if step_key.startswith("sync_"):
        return "sync " + step_key.removeprefix("sync_")
    return step_key


class ProgressHandler(logging.Handler):
    """Turns Dagster events into short progress lines. `groups` maps an asset name to its group, so a dbt
    step's done line says how many of each layer it built; a
    governance check that passed on every asset it checks is one line (a failure names its asset)."""

    def __init__(self, groups: Mapping[str, str], out: TextIO) -> None:
        super().__init__(level=logging.DEBUG)
        self.groups = dict(groups)
        self.built: Counter[str] = Counter()
        self.started: dict[str, float] = {}
        self.passed: dict[str, list[str]] = {}  # gx step -> check name and the assets it passed on
        self.syncs_done: list[str] = []  # syncs that succeeded since the last line: printed as one line
        self.skipped: set[str] = set()  # steps whose asset did nothing by configuration (metadata "skipped")
        self.out = out
        self.t0 = time.monotonic()

    def line(self, text: str) -> None:
        self.out.write(f"[{time.monotonic() - self.t0:6.1f}s] {text}\n")
        self.out.flush()

    def flush_syncs(self) -> None:
        """One line for the syncs that succeeded one after another (a failed sync keeps its own line)."""
        done, self.syncs_done = self.syncs_done, []
        self.line(f"done   sync {', '.join(done)}")

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None:
            if record.levelno >= logging.WARNING:
                message = meta.get("orig_message") or record.getMessage()
                self.line(f"{record.levelname.lower()}: {message.strip().splitlines()[0][:300]}")
            return
        kind = event.event_type_value
        step = event.step_key or ""
        if self.syncs_done and (kind in RUN_END or kind == "STEP_FAILURE"
                                or (kind == "STEP_START" and not step.startswith("sync_"))):
            self.flush_syncs()
        if kind == "STEP_START":
            self.started[step] = time.monotonic()
            if step in DBT_STEPS:  # the long ones; the others report once, when done
                self.line(f"start  {step_label(step)}")
        elif kind == "STEP_SUCCESS":
            took = f"{time.monotonic() - self.started.get(step, self.t0):.1f}s"
            if "gx_" in step:  # one line for a check that passed on every asset it checks
                name, *assets = self.passed.pop(step, [""])
                if assets:
                    where = assets[0] if len(assets) == 1 else f"{len(assets)} assets"
                    self.line(f"check  {name} pass on {where} ({took})")
            elif step in DBT_STEPS:
                layers = ", ".join(f"{g} {n}" for g, n in self.built.items() if n)
                self.built.clear()
                self.line(f"done   {step_label(step)} ({took}){': built ' + layers if layers else ''}")
            elif step.startswith("sync_"):  # the syncs run one after another: one line for them all
                self.syncs_done.append(f"{step.removeprefix('sync_')} ({took})")
            elif step not in self.skipped and step not in QUIET_STEPS:  # an asset switched off prints nothing
                self.line(f"done   {step_label(step)} ({took})")
        elif kind == "STEP_FAILURE":
            error = event.step_failure_data.error if event.step_failure_data else None
            reason = (error.message.strip().splitlines()[0][:300] if error and error.message else "")
            self.line(f"FAILED {step_label(step)}: {reason}")
        elif kind == "STEP_SKIPPED":
            self.line(f"skip   {step_label(step)} (an upstream step or blocking check failed)")
        elif kind == "ASSET_MATERIALIZATION" and event.asset_key is not None:
            group = self.groups.get(event.asset_key.path[-1])
            if "skipped" in event.event_specific_data.materialization.metadata:
                self.skipped.add(step)
            if group and step in DBT_STEPS:
                self.built[group] += 1
        elif kind == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if data.check_name.startswith("gx_") and data.passed and "gx_" in step:
                self.passed.setdefault(step, [data.check_name[:90]]).append(data.asset_key.path[-1])
            elif data.check_name.startswith("gx_") or not data.passed:
                warn_only = data.severity == dg.AssetCheckSeverity.WARN
                outcome = "pass" if data.passed else ("warn" if warn_only else "FAIL")
                took = f" ({time.monotonic() - self.started[step]:.1f}s)" if "gx_" in step and step in self.started else ""
                self.line(f"check  {data.asset_key.path[-1]}:{data.check_name[:90]} {outcome}{took}")


RUN_END = {"PIPELINE_SUCCESS", "PIPELINE_FAILURE", "PIPELINE_CANCELED", "RUN_SUCCESS", "RUN_FAILURE", "RUN_CANCELED"}


def progress_logger(groups: Mapping[str, str], out: TextIO = sys.stdout) -> dg.LoggerDefinition:
    @dg.logger(description="cdp run's progress lines")
    def _progress(_init_context) -> logging.Logger:
        logger = logging.getLogger("cdp.progress")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.handlers = [ProgressHandler(groups, out)]
        return logger

    return _progress
