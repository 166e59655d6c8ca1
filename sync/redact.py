"""Messages never carry what a URL may hide: query strings and fragments (tokens, signatures) and user
info (credentials) are cut from every URL in a text before it is logged, stored or printed. A path that
starts with "/" keeps its path and loses its query too (client libraries print the request target so)."""

from __future__ import annotations

import re

_ABSOLUTE = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s@?#'\"<>]*@)?"
                       r"(?P<rest>[^\s?#'\"<>]*)(?P<tail>[?#][^\s'\"<>]*)?")
_RELATIVE = re.compile(r"(?P<path>(?<![\w/:.])/[^\s?#'\"<>]*)(?P<tail>[?#][^\s'\"<>]*)")


def redact(text: str | None) -> str:
    """`text` with every URL reduced to scheme://host[:port]/path and every /path?query to /path."""
    if not text:
        return text or ""
    text = _ABSOLUTE.sub(lambda m: m.group("scheme") + m.group("rest"), text)
    return _RELATIVE.sub(lambda m: m.group("path"), text)
