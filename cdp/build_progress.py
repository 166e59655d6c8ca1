"""What `cdp build` (and `make build`) prints while dbt builds: the lines `cdp run` prints for its dbt steps
(a start line per layer, the models built per layer, failures, warnings and failing tests as they happen),
read from dbt's structured log (`--log-format json`). dbt's own lines go to a log file; `-v` shows them
instead."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

LAYERS = {"staging": "staging", "identity": "identity", "profiles": "profiles", "quality": "quality",
          "predictions": "predictions", "crm": "crm_models", "privacy": "privacy"}
RESULTS = {"LogModelResult", "LogSeedResult", "LogSnapshotResult"}


def layer_of(node_path: str, resource_type: str) -> str:
    """models/<layer>/<domain>/... -> the asset group `cdp run` and the Dagster UI name; seeds are staging."""
    if resource_type == "seed":
        return "staging"
    return next((LAYERS[part] for part in node_path.split("/")[:-1] if part in LAYERS), "other")


class BuildProgress:
    """Turns dbt's structured events into short lines, as cdp.progress does for Dagster's."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.t0 = time.monotonic()
        self.started: list[str] = []
        self.built: Counter[str] = Counter()
        self.tests: Counter[str] = Counter()
        self.failed: list[str] = []

    def line(self, text: str) -> None:
        self.out.write(f"[{time.monotonic() - self.t0:6.1f}s] {text}\n")
        self.out.flush()

    def event(self, event: Mapping) -> None:
        info, data = event.get("info", {}), event.get("data", {})
        name, level, message = info.get("name", ""), info.get("level", ""), (info.get("msg") or "").strip()
        node = data.get("node_info") or {}
        resource, status = node.get("resource_type", ""), node.get("node_status", "")
        node_name = node.get("node_name") or Path(node.get("node_path", "")).stem
        if name == "LogStartLine" and resource in ("model", "seed", "snapshot"):
            layer = layer_of(node.get("node_path", ""), resource)
            if layer not in self.started:
                self.started.append(layer)
                self.line(f"start  {layer}")
        elif name in RESULTS:
            if status in ("error", "fail"):
                self.failed.append(node_name)
                self.line(f"FAILED {resource} {node_name}: {first_line(message)}")
            else:
                self.built[layer_of(node.get("node_path", ""), resource)] += 1
        elif name == "LogTestResult":
            self.tests[status] += 1
            if status in ("fail", "error", "warn"):
                outcome = "warn" if status == "warn" else "FAIL"
                self.line(f"check  {node_name} {outcome}")
        elif level in ("warn", "error") and name not in ("RunResultWarning", "RunResultFailure", "RunResultError"):
            self.line(f"{'warning' if level == 'warn' else 'error'}: {first_line(message)}")

    def summary(self, rc: int) -> None:
        layers = ", ".join(f"{layer} {n}" for layer, n in self.built.items())
        tests = ", ".join(f"{n} {status}" for status, n in sorted(self.tests.items()))
        outcome = "done  " if rc == 0 else "FAILED"
        self.line(f"{outcome} dbt build ({time.monotonic() - self.t0:.1f}s): built {layers or 'nothing'}"
                  f"{'; tests ' + tests if tests else ''}")


def first_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def run_with_progress(cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path,
                      out: TextIO = sys.stdout) -> int:
    """Runs dbt with structured logs: progress lines to `out`, dbt's own text lines to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    progress = BuildProgress(out)
    progress.line(f"start  dbt build (full output: {log_path})")
    with log_path.open("w", encoding="utf-8") as log, subprocess.Popen(
            [*cmd, "--log-format", "json"], cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                log.write(raw)  # a line from outside dbt's logger (a library, a crash)
                continue
            log.write((event.get("info", {}).get("msg") or "") + "\n")
            progress.event(event)
        rc = proc.wait()
    progress.summary(rc)
    return rc
