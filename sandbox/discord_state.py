"""The sandbox's Discord: users, applications, bots, guilds and their members, in memory."""

import threading
from collections import defaultdict, deque

from flask import current_app

ROUTE_LIMIT = 5  # per bucket and bot, in ROUTE_WINDOW seconds (Discord's member routes are similar)
ROUTE_WINDOW = 5.0
GLOBAL_LIMIT = 50  # requests per second per bot
DISCORD_EPOCH_ID = 900_000_000_000_000_000


class DiscordWorld:
    """Users, applications, bots, guilds and their members; guarded by one lock."""

    def __init__(self):
        self.lock = threading.RLock()
        self.users = {}  # id -> {"id", "username", "global_name"}
        self.apps = {}  # client_id -> {"secret", "redirect_uris"}
        self.bots = set()  # valid bot tokens
        self.guilds = {}  # id -> {"id", "name", "roles": {id: name}, "members": {user id: {"roles", "nick"}}}
        self.codes = {}  # code -> (user id, client id, redirect uri, scopes)
        self.tokens = {}  # access token -> (user id, scopes, expires at)
        self.refresh_tokens = {}  # refresh token -> (user id, scopes)
        self.channels = {}  # DM channel id -> user id
        self.messages = defaultdict(list)  # user id -> [{"id", "content", "at"}] sent to them by DM
        self.closed_dms = set()  # user ids who accept no direct messages
        self.webhooks = {}  # channel webhook id -> {"token", "messages", "window"}
        self.windows = defaultdict(deque)  # (bot, bucket) -> times
        self.global_window = defaultdict(deque)  # bot -> times
        self.counters = {"rate_limited": 0, "invalid_requests": 0, "dm_channels": 0, "messages": 0}
        self.next_id = DISCORD_EPOCH_ID

    def new_id(self):
        with self.lock:
            self.next_id += 1
            return str(self.next_id)

    def reset(self):
        with self.lock:
            self.windows.clear()
            self.global_window.clear()
            self.counters = {"rate_limited": 0, "invalid_requests": 0, "dm_channels": 0, "messages": 0}


def world():
    """The Discord world of the running sandbox."""
    return current_app.extensions["sandbox"]["discord"]
