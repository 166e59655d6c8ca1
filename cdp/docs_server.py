"""GX Data Docs over http on loopback. Browsers refuse `file://` links from an http page (the Dagster UI),
so the governance checks link each Data Docs page at http://127.0.0.1:<CDP_GX_DOCS_PORT>/<page>, and
`cdp ui` (or `cdp docs --gx` alone) serves the folder there: a static file server bound to 127.0.0.1."""

from __future__ import annotations

import functools
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEFAULT_PORT = 3001


def gx_docs_port() -> int:
    return int(os.environ.get("CDP_GX_DOCS_PORT", DEFAULT_PORT))


def gx_docs_url(page: Path) -> str:
    """The http address a Data Docs page is served at (its name under the docs folder)."""
    return f"http://127.0.0.1:{gx_docs_port()}/{page.name}"


class _QuietHandler(SimpleHTTPRequestHandler):
    """Files of one folder, no request log on the terminal."""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        return None


def serve_gx_docs(folder: Path, port: int | None = None, background: bool = True) -> ThreadingHTTPServer:
    """Serve `folder` on 127.0.0.1 (port 0: a free one); in a daemon thread unless background is False."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", gx_docs_port() if port is None else port), handler)
    if background:
        threading.Thread(target=server.serve_forever, name="gx-docs", daemon=True).start()
    return server
