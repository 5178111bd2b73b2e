"""Discord's channel webhooks, as alliances post to their ops channels: ``POST
/discord/api/webhooks/{id}/{token}`` with ``content`` (at most 2,000 characters) or ``embeds``;
204 (200 with the message when ``?wait=true``); 404 (10015) for an unknown webhook or a wrong
token; 400 (50006) for an empty message; 429 with ``retry_after`` past 5 messages in 2 seconds.
The control API creates webhooks and reads what was posted to them."""

import secrets
import time
from collections import deque

from flask import Blueprint, jsonify, make_response, request

from sandbox.discord_state import world

bp = Blueprint("discord_webhooks", __name__)
control = Blueprint("discord_webhooks_control", __name__)

LIMIT, WINDOW = 5, 2.0


def _hooks():
    return world().webhooks


@bp.post("/api/webhooks/<webhook_id>/<token>")
def execute(webhook_id, token):
    """Post a message to the webhook's channel."""
    w = world()
    hook = _hooks().get(webhook_id)
    if hook is None or not secrets.compare_digest(hook["token"], token):
        return make_response(jsonify({"message": "Unknown Webhook", "code": 10015}), 404)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return make_response(jsonify({"message": "Cannot send an empty message", "code": 50006}), 400)
    content, embeds = body.get("content") or "", body.get("embeds") or []
    if not isinstance(content, str) or len(content) > 2000:
        return make_response(jsonify({"message": "Invalid Form Body", "code": 50035}), 400)
    if not content and not embeds:
        return make_response(jsonify({"message": "Cannot send an empty message", "code": 50006}), 400)
    now = time.time()
    with w.lock:
        window = hook["window"]
        while window and window[0] <= now - WINDOW:
            window.popleft()
        if len(window) >= LIMIT:
            retry = round(WINDOW - (now - window[0]), 3)
            answer = make_response(
                jsonify({"message": "You are being rate limited.", "retry_after": retry, "global": False}),
                429,
            )
            answer.headers["Retry-After"] = str(max(1, round(retry)))
            return answer
        window.append(now)
        message = {"id": w.new_id(), "content": content, "embeds": embeds, "username": body.get("username")}
        hook["messages"].append({**message, "at": now})
    if request.args.get("wait") == "true":
        return jsonify(message), 200
    return "", 204


@control.post("/discord/webhooks")
def create():
    """Create a channel webhook: its id, token and path."""
    webhook_id, token = world().new_id(), secrets.token_urlsafe(24)
    with world().lock:
        _hooks()[webhook_id] = {"token": token, "messages": [], "window": deque()}
    return {"id": webhook_id, "token": token, "path": f"/discord/api/webhooks/{webhook_id}/{token}"}, 201


@control.get("/discord/webhooks/<webhook_id>/messages")
def posted(webhook_id):
    """What was posted to a webhook, oldest first."""
    hook = _hooks().get(webhook_id)
    if hook is None:
        return {"error": "no such webhook"}, 404
    with world().lock:
        return {"messages": list(hook["messages"])}
