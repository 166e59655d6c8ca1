"""Fault injection shared by every API of the sandbox: latency, random 5xx before a write, responses lost
after the write was applied, and scripted answers (POST /_sandbox/config)."""

from __future__ import annotations

import socket
import time


class FaultsMixin:
    def _drop(self):
        """A response lost after the write was applied: close the socket without answering."""
        self.store.stats["lost_responses"] += 1
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _faults_before(self) -> bool:
        cfg = self.store.config
        if cfg["latency_ms"]:
            time.sleep(cfg["latency_ms"] / 1000)
        if cfg["fail_rate"] and self.store.rng.random() < cfg["fail_rate"]:
            self.store.stats["injected_failures"] += 1
            self._send(503, {"status": "error", "message": "injected failure", "category": "INTERNAL_ERROR"})
            return True
        return False

    def _scripted(self) -> bool:
        """Answer from the configured script, if any entries are left (API paths only)."""
        with self.store.lock:
            script = self.store.config.get("script") or []
            if not script:
                return False
            step = script.pop(0)
            self.store.stats["scripted"] += 1
        body = step.get("body", {"status": "error", "message": "scripted response", "category": "SCRIPTED"})
        self._send(int(step.get("status", 503)), body, step.get("headers") or {})
        return True

    def _lose_after(self) -> bool:
        return bool(self.store.config["lost_rate"]) and self.store.rng.random() < self.store.config["lost_rate"]
