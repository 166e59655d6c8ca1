"""`cdp sync ...` commands. Filled in by the sync engine."""

from __future__ import annotations

import argparse


def add_sync_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sync", help="reverse-ETL syncs to CRMs")
    s.set_defaults(func=lambda ns: (print("no syncs yet"), 1)[1])
