"""Build the governor from the configuration and connect the EVE client's response hook to it."""

from urllib.parse import urlsplit

from flask import current_app

from app.jobs.governor import Governor, Settings, parse_limits, parse_window

EVE_UPSTREAMS = ("sso", "esi")


def make_governor(redis_client, config):
    """A governor for every upstream, with known limits, downtime and thresholds from the config."""
    try:
        limits = parse_limits(config.get("GOVERNOR_LIMITS", ""))
        downtime = parse_window(config.get("EVE_DOWNTIME", ""))
    except ValueError as exc:
        raise RuntimeError(str(exc)) from None
    common = {
        "safety": config.get("GOVERNOR_SAFETY", 0.95),
        "gate_safety": config.get("GOVERNOR_GATE_SAFETY", 0.99),
        "gate_slack": config.get("GOVERNOR_GATE_SLACK", 0.04),
    }
    settings = {
        "sso": Settings(
            known_limit=limits.get("sso"),
            initial_rate=config.get("SSO_INITIAL_RATE", 20.0),
            downtime=downtime,
            **common,
        ),
        "esi": Settings(
            known_limit=limits.get("esi"),
            initial_rate=50.0,
            downtime=downtime,
            error_threshold=config.get("ESI_ERROR_THRESHOLD", 20),
            **common,
        ),
    }
    # Discord: 50 requests a second per bot, documented; its buckets come from its headers.
    settings["discord"] = Settings(known_limit=limits.get("discord", 50.0), initial_rate=10.0, **common)
    for name, limit in limits.items():
        settings.setdefault(name, Settings(known_limit=limit, **common))
    esi_path = urlsplit(config.get("EVE_ESI_URL") or "").path.rstrip("/")
    return Governor(redis_client, settings, esi_path=esi_path)


def init_app(app):
    """Attach the governor to the app."""
    app.extensions["governor"] = make_governor(app.extensions["redis"], app.config)


def get_governor():
    """The current app's governor."""
    return current_app.extensions["governor"]
