"""Name templates: what a service calls a member (a Discord nickname, a Mumble username).

A template is text with fields in braces, such as "[{ticker}] {name}". Only the fields below are
allowed, with no format specs, conversions, attributes or indexes, so a template can never reach
into Python objects. Brackets left empty by a missing field are dropped ("[] Name" becomes "Name").
"""

import re
import string

FIELDS = {
    "name": "the main character's name",
    "ticker": "the corporation's ticker",
    "corporation": "the corporation's name",
    "alliance_ticker": "the alliance's ticker",
    "alliance": "the alliance's name",
    "state": "member, blue or guest",
}
DEFAULTS = {"discord": "[{ticker}] {name}", "mumble": "[{ticker}] {name}"}
LIMITS = {"discord": 32, "mumble": 128}
MAX_TEMPLATE = 128
EXAMPLE = {
    "name": "Val Pilot",
    "ticker": "VAL",
    "corporation": "Valkyrie Logistics",
    "alliance_ticker": "VALK",
    "alliance": "Valkyrie Alliance",
    "state": "member",
}
_EMPTY_BRACKETS = re.compile(r"\[\s*\]|\(\s*\)|<\s*>|\{\s*\}")
_SPACES = re.compile(r"\s+")


class TemplateError(ValueError):
    """A template that cannot be used, with a message a person understands."""


def parse(template):
    """The template's pieces as (literal, field or None); TemplateError when it is not usable."""
    if len(template) > MAX_TEMPLATE:
        raise TemplateError(f"Keep the template under {MAX_TEMPLATE} characters.")
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError:
        raise TemplateError(
            "Braces must pair up around a field, as in {name}; write {{ or }} for a brace itself."
        ) from None
    known = ", ".join("{" + field + "}" for field in FIELDS)
    parsed = []
    for literal, field, spec, conversion in pieces:
        if field is not None:
            if field not in FIELDS:
                raise TemplateError(f"{{{field}}} is not a field here; use {known}.")
            if spec or conversion:
                raise TemplateError(f"Write {{{field}}} on its own, without ! or : after the name.")
        parsed.append((literal, field))
    if not any(field for _, field in parsed):
        raise TemplateError("Use at least one field, such as {name}, so members can be told apart.")
    return parsed


def render(template, values, limit):
    """The name a template gives these values, tidied and cut to the service's limit."""
    text = "".join(
        literal + ((values.get(field) or "") if field else "") for literal, field in parse(template)
    )
    text = _SPACES.sub(" ", _EMPTY_BRACKETS.sub("", text)).strip()
    return text[:limit].strip()


def values_of(event):
    """The template's fields for a grant event (see ``app.services.events``)."""
    corp = event.get("corporation") or {}
    alliance = event.get("alliance") or {}
    return {
        "name": (event.get("character") or {}).get("name") or event["user"]["name"],
        "ticker": corp.get("ticker") or "",
        "corporation": corp.get("name") or "",
        "alliance_ticker": alliance.get("ticker") or "",
        "alliance": alliance.get("name") or "",
        "state": event["user"].get("state") or "",
    }


def template_of(service):
    """The service's template, or its kind's default."""
    return service.name_template or DEFAULTS.get(service.kind, "{name}")


def name_for(service, event):
    """What this service calls the event's user."""
    return render(template_of(service), values_of(event), LIMITS.get(service.kind, 128))
