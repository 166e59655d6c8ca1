"""Start and stop the CRM sandbox as a separate process on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from sync.sandbox.store import hubspot_token, sf_client, webhook_secret


@dataclass
class Sandbox:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client_env(self) -> dict[str, str]:
        """Environment for a sync process that should talk to this sandbox."""
        cid, secret = sf_client()
        return {"HUBSPOT_BASE_URL": self.url, "HUBSPOT_ACCESS_TOKEN": hubspot_token(),
                "SALESFORCE_LOGIN_URL": self.url, "SALESFORCE_CLIENT_ID": cid, "SALESFORCE_CLIENT_SECRET": secret,
                "CDP_WEBHOOK_URL": f"{self.url}/webhook/marketing", "CDP_WEBHOOK_SECRET": webhook_secret()}

    def configure(self, **config) -> dict:
        return requests.post(f"{self.url}/_sandbox/config", json=config, timeout=5).json()

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_sandbox/stats", timeout=5).json()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_sandbox(detach: bool = False, log_path: Path | None = None) -> Sandbox:
    port_file = Path(tempfile.mkdtemp(prefix="cdp-sandbox-")) / "port"
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "sync.sandbox.server", "--port-file", str(port_file)],
                            stdout=out, stderr=out, start_new_session=detach, env=dict(os.environ))
    deadline = time.monotonic() + 20
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the CRM sandbox did not start")
        time.sleep(0.05)
    return Sandbox(proc, int(port_file.read_text()))
