"""The demo universe: a few alliances, corporations and named characters, the same at every start."""

from sandbox.state import ALLIANCE_ID_START, CHARACTER_ID_START, CORPORATION_ID_START

DEMO_CLIENT_ID = "bastion-demo"
DEMO_CLIENT_SECRET = "bastion-demo-secret"  # noqa: S105  (the sandbox's own demo application)

ALLIANCES = [
    ("Stellar Vanguard", "VNGD"),
    ("Crimson Accord", "CRMS"),
]
# name, ticker, alliance index or None
CORPORATIONS = [
    ("Vanguard Logistics", "VLOG", 0),
    ("Vanguard Industries", "VIND", 0),
    ("Crimson Blades", "CRBL", 1),
    ("Drifters Anonymous", "DRIFT", None),
    ("Rookie Academy", "ROOK", None),
]
# name, corporation index, roles
CHARACTERS = [
    ("Aria Vex", 0, ["Director"]),
    ("Borin Kade", 0, []),
    ("Cela Morn", 0, []),
    ("Dax Orrin", 1, ["Director"]),
    ("Enna Sol", 1, []),
    ("Fenn Tarro", 2, ["Director"]),
    ("Gale Ishan", 2, []),
    ("Hesk Varun", 3, []),
    ("Ilse Drummond", 4, []),
    # In Vanguard Logistics in game, but registered nowhere: the compliance view lists them.
    ("Kira Solace", 0, []),
    ("Lorn Ashe", 0, []),
    ("Mira Quell", 0, []),
]


# Members whose keys the demo starts with; the rest are left for people to log in with.
MEMBERS_WITH_KEYS = ["Borin Kade", "Cela Morn", "Enna Sol", "Gale Ishan", "Hesk Varun"]
DEMO_SCOPES = ["esi-characters.read_corporation_roles.v1"]
# The member whose grant also reads Vanguard Logistics' member list (its tracking token).
TRACKING_MEMBER = "Borin Kade"
MEMBERSHIP_SCOPE = "esi-corporations.read_corporation_membership.v1"


def demo_scopes(name):
    """The scopes of a demo member's grant."""
    return DEMO_SCOPES + ([MEMBERSHIP_SCOPE] if name == TRACKING_MEMBER else [])


def character_id_of(name):
    """The fixed id of a demo character."""
    return CHARACTER_ID_START + [c[0] for c in CHARACTERS].index(name)


def demo_refresh_token(character_id):
    """The first refresh token of a demo member's grant (it rotates from there)."""
    return f"rt-demo-{character_id}"


def demo_owner_hash(character_id):
    """A stable owner hash for a demo character."""
    return f"demo-owner-{character_id}="


def build_demo(world, redirect_uris):
    """Fill an empty universe with the demo and register the demo application."""
    alliance_ids = []
    for offset, (name, ticker) in enumerate(ALLIANCES):
        alliance_ids.append(world.add_alliance(name, ticker, alliance_id=ALLIANCE_ID_START + offset).id)
    world.next_ids["alliance"] = ALLIANCE_ID_START + len(ALLIANCES)
    corporation_ids = []
    # The starter corporation (the default for new characters) gets the lowest id.
    for offset, (name, ticker, alliance) in enumerate(
        sorted(CORPORATIONS, key=lambda c: c[0] != "Rookie Academy")
    ):
        alliance_id = alliance_ids[alliance] if alliance is not None else None
        corporation = world.add_corporation(
            name, ticker, alliance_id, corporation_id=CORPORATION_ID_START + offset
        )
        corporation_ids.append((name, corporation.id))
    world.next_ids["corporation"] = CORPORATION_ID_START + len(CORPORATIONS)
    by_name = dict(corporation_ids)
    for offset, (name, corp_index, roles) in enumerate(CHARACTERS):
        character_id = CHARACTER_ID_START + offset
        corporation_id = by_name[CORPORATIONS[corp_index][0]]
        character = world.add_character(
            name, corporation_id, character_id=character_id, owner_hash=demo_owner_hash(character_id)
        )
        character.roles = list(roles)
    world.next_ids["character"] = CHARACTER_ID_START + len(CHARACTERS)
    world.add_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, redirect_uris)
    for name in MEMBERS_WITH_KEYS:
        character_id = character_id_of(name)
        world.add_grant(
            character_id, DEMO_CLIENT_ID, demo_scopes(name), refresh_token=demo_refresh_token(character_id)
        )
    return world


def corporation_rows():
    """(id, name, ticker, alliance id) of every demo corporation, as build_demo numbers them."""
    ordered = sorted(CORPORATIONS, key=lambda c: c[0] != "Rookie Academy")
    return [
        (
            CORPORATION_ID_START + offset,
            name,
            ticker,
            ALLIANCE_ID_START + alliance if alliance is not None else None,
        )
        for offset, (name, ticker, alliance) in enumerate(ordered)
    ]


def alliance_rows():
    """(id, name, ticker) of every demo alliance."""
    return [(ALLIANCE_ID_START + offset, name, ticker) for offset, (name, ticker) in enumerate(ALLIANCES)]


# Discord: the demo's OAuth2 application, bot and server (rebuilt at every start; not in the state file).
DEMO_DISCORD_CLIENT_ID = "bastion-demo-discord"
DEMO_DISCORD_CLIENT_SECRET = "bastion-demo-discord-secret"  # noqa: S105  (the sandbox's own demo)
DEMO_DISCORD_BOT_TOKEN = "bastion-demo-bot-token"  # noqa: S105
DEMO_GUILD_ID = "900000000000000001"
# The demo forum's OpenID Connect client at Bastion (sandbox/forum.py; app/demo.py registers it).
FORUM_CLIENT_ID = "bastion-demo-forum"
FORUM_CLIENT_SECRET = "bastion-demo-forum-secret"  # noqa: S105  (the demo's, on 127.0.0.1 only)
DEMO_GUILD_ROLES = {"900000000000000002": "Vanguard", "900000000000000003": "Friends"}


def build_discord_demo(discord, redirect_uris):
    """Register the demo's Discord application, bot and server."""
    with discord.lock:
        discord.apps[DEMO_DISCORD_CLIENT_ID] = {
            "secret": DEMO_DISCORD_CLIENT_SECRET,
            "redirect_uris": [
                uri.replace("/sso/callback", "/services/discord/callback") for uri in redirect_uris
            ],
        }
        discord.bots.add(DEMO_DISCORD_BOT_TOKEN)
        discord.guilds[DEMO_GUILD_ID] = {
            "id": DEMO_GUILD_ID,
            "name": "Stellar Vanguard Comms",
            "roles": dict(DEMO_GUILD_ROLES),
            "members": {},
        }
        discord.next_id = max(discord.next_id, int(max(DEMO_GUILD_ROLES)))
