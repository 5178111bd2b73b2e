"""Runs inside Alliance Auth's own virtual environment: fills its database with Alliance Auth's
models and managers from a JSON description, or refreshes a token the way Alliance Auth does.

    python seed.py seed FILE.json      python seed.py refresh CHARACTER_ID
"""

import json
import sys

import django

django.setup()

from allianceauth.authentication.models import CharacterOwnership, State  # noqa: E402
from allianceauth.eveonline.models import EveAllianceInfo, EveCharacter, EveCorporationInfo  # noqa: E402
from allianceauth.services.modules.discord.models import DiscordUser  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from esi.models import Scope, Token  # noqa: E402


def seed(spec):
    alliances = {}
    for a in spec["alliances"]:
        alliances[a["id"]] = EveAllianceInfo.objects.create(
            alliance_id=a["id"], alliance_name=a["name"], alliance_ticker=a["ticker"], executor_corp_id=0
        )
    corporations = {}
    for c in spec["corporations"]:
        corporations[c["id"]] = EveCorporationInfo.objects.create(
            corporation_id=c["id"],
            corporation_name=c["name"],
            corporation_ticker=c["ticker"],
            member_count=1,
            alliance=alliances.get(c.get("alliance_id")),
        )
    for name, members in spec["states"].items():
        state = State.objects.get(name=name)
        state.member_corporations.add(*[corporations[i] for i in members.get("corporations", [])])
        state.member_alliances.add(*[alliances[i] for i in members.get("alliances", [])])
    for u in spec["users"]:
        user = User.objects.create_user(u["username"], is_superuser=u.get("superuser", False))
        for ch in u.get("characters", []):
            corp = corporations[ch["corporation_id"]]
            alliance = corp.alliance
            character = EveCharacter.objects.create(
                character_id=ch["id"],
                character_name=ch["name"],
                corporation_id=corp.corporation_id,
                corporation_name=corp.corporation_name,
                corporation_ticker=corp.corporation_ticker,
                alliance_id=alliance.alliance_id if alliance else None,
                alliance_name=alliance.alliance_name if alliance else "",
                alliance_ticker=alliance.alliance_ticker if alliance else "",
            )
            CharacterOwnership.objects.create(user=user, character=character, owner_hash=ch["owner_hash"])
            if ch.get("main"):
                user.profile.main_character = character
                user.profile.save()
            for refresh_token in ch.get("tokens", []):
                token = Token.objects.create(
                    user=user,
                    character_id=ch["id"],
                    character_name=ch["name"],
                    character_owner_hash=ch["owner_hash"],
                    access_token="unused",
                    refresh_token=refresh_token,
                    token_type=Token.TOKEN_TYPE_CHARACTER,
                )
                for name in ch.get("scopes", ["publicData"]):
                    token.scopes.add(Scope.objects.get_or_create(name=name, defaults={"help_text": name})[0])
        if u.get("discord"):
            DiscordUser.objects.create(user=user, uid=u["discord"]["uid"], username=u["discord"]["username"])
        for group in u.get("groups", []):
            user.groups.add(Group.objects.get_or_create(name=group)[0])
    users = {
        user.username: user.profile.state.name for user in User.objects.select_related("profile__state").all()
    }
    print(json.dumps({"states": users}))


def refresh(character_id):
    import os

    from esi import app_settings

    app_settings.ESI_TOKEN_JWK_SET_URL = os.environ["AA_SSO_URL"] + "/oauth/jwks"  # the sandbox's keys
    token = Token.objects.filter(character_id=character_id).order_by("-created").first()
    token.refresh()
    print(json.dumps({"refreshed": token.pk}))


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        with open(sys.argv[2], encoding="utf-8") as spec:
            seed(json.load(spec))
    else:
        refresh(int(sys.argv[2]))
