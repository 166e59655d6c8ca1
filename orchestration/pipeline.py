"""The main job, end to end."""

from __future__ import annotations

from orchestration.cli import cmd_build
from orchestration.settings import Settings


def run_pipeline(settings: Settings) -> int:
    import argparse

    return cmd_build(argparse.Namespace(target=settings.target, full_refresh=False, select=None))
