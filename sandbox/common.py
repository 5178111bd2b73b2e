"""Helpers the sandbox's routes share: the universe, JSON errors, latency and injected faults."""

import random
import time

from flask import Response, current_app, jsonify

MAINTENANCE_PAGE = (
    "<!doctype html><html><head><title>Maintenance</title></head>"
    "<body><h1>We'll be back shortly</h1><p>EVE Online is undergoing maintenance.</p></body></html>"
)


def universe():
    """The universe this sandbox serves."""
    return current_app.extensions["sandbox"]["universe"]


def signing_key():
    """The key that signs access tokens."""
    return current_app.extensions["sandbox"]["key"]


def error(status, message, **extra):
    """An error in ESI's and SSO's shape."""
    body = {"error": message}
    body.update(extra)
    return jsonify(body), status


def setting(name):
    """One of the sandbox's current settings."""
    return universe().config[name]


def pause():
    """Wait as long as the configured latency."""
    latency = setting("latency_ms") or 0
    if latency > 0:
        time.sleep(latency / 1000.0)


def injected_fault(target):
    """Maybe fail this call as configured: a 5xx answer, or a hang then 504. None when it goes through."""
    rate = setting(f"{target}_fault_rate")
    if rate is None:
        rate = setting("fault_rate")
    if not rate or random.random() >= rate:  # noqa: S311  (fault injection, not security)
        return None
    world = universe()
    with world.lock:
        world.counters.faults += 1
    if random.random() < setting("timeout_share"):  # noqa: S311
        time.sleep(setting("hang_s"))
        return error(504, "Timeout contacting upstream")
    if random.random() < setting("garbage_share"):  # noqa: S311
        with world.lock:
            world.counters.garbage_served += 1
        status = setting("garbage_status") or 200
        if random.random() < 0.5:  # noqa: S311
            return Response(MAINTENANCE_PAGE, status, mimetype="text/html")
        return Response('{"access_token": "eyJ', status, mimetype="application/json")  # cut off
    return error(random.choice([500, 502, 503]), "Internal upstream error")  # noqa: S311
