"""Helpers the fixtures share; the real-server helpers live in bench/servers.py and serve both."""

import os
import re

from bench.servers import ConsumerProcess, RedisServer, free_port, wait_for  # noqa: F401  (re-exported)

IN_CI = os.environ.get("CI", "").lower() == "true"

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token_from(html):
    """The CSRF token in a rendered page."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)
