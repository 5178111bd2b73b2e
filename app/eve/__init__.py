"""EVE SSO and ESI: the client, token checks and error types (no Flask request objects here)."""

from flask import current_app

from app.eve.client import EveClient


def user_agent(config):
    """Bastion's User-Agent: app name, version and a contact address, as CCP asks."""
    return f"Bastion/{config['VERSION']} (+{config['EVE_CONTACT']}; access management)"


def init_app(app):
    """Build the app's EVE client from its configuration; every answer is shown to the governor."""
    config = app.config
    app.extensions["eve"] = EveClient(
        sso_url=config["EVE_SSO_URL"],
        esi_url=config["EVE_ESI_URL"],
        client_id=config["EVE_CLIENT_ID"],
        client_secret=config["EVE_CLIENT_SECRET"],
        user_agent=user_agent(config),
        compatibility_date=config["ESI_COMPATIBILITY_DATE"],
        timeout=config["EVE_TIMEOUT"],
        on_response=app.extensions["governor"].observe,
    )


def get_client():
    """The current app's EVE client."""
    return current_app.extensions["eve"]
