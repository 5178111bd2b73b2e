"""What every outside client reads from HTTP answers the same way, and the sessions they call with."""

import os

import requests


def header_number(value, default=None):
    """A header's value as a number of at least zero (seconds, calls left), or default when unreadable."""
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return default


def new_session(user_agent=None):
    """A requests session that reads proxy settings from the environment once, not on every call.

    requests looks up proxy variables and ~/.netrc for each request; on the hot path that costs
    more than the call's own bookkeeping. Where no proxy is configured the session skips those
    lookups (a CA bundle named in REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE is still used); where one
    is, requests keeps doing what it always does.
    """
    session = requests.Session()
    if user_agent:
        session.headers["User-Agent"] = user_agent
    if not requests.utils.getproxies():
        session.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    return session
