"""The roles call made with a key check: does the character hold ESI's Director role, in the
corporation it is in at that moment?"""

import logging

from app.corps.directors import DIRECTOR_ROLE
from app.eve.errors import EveError
from app.jobs.connection import get_redis
from app.jobs.rounds import Batch
from app.jobs.setup import get_governor

log = logging.getLogger(__name__)

ESI_UPSTREAM = "esi"
ROLES_SCOPE = "esi-characters.read_corporation_roles.v1"
ROLES_ROUTE = "/characters/{id}/roles"


def holds_director_role(client, row, access_token, scopes):
    """Whether the character holds the Director role in the corporation Bastion has it in; None
    when unknown.

    Asked only with the roles scope and only for corporations tracked as member; when ESI's
    governor says wait, or ESI fails, the answer waits for the next check (a key's verdict never
    depends on it). ESI answers with the roles the character holds where it is now, so a Director
    role is credited only after ESI confirms the character is still in that corporation: a
    character that moved holds no directorship in its old corporation.
    """
    if ROLES_SCOPE not in scopes or "member" not in (row.tracked_as, row.alliance_tracked_as):
        return None
    governor = get_governor()
    batch = governor.check_into(Batch(get_redis()), ESI_UPSTREAM)  # ESI's gate and the bucket: one round trip
    governor.buckets.gate_into(batch, ROLES_ROUTE, f"character:{row.character_id}")
    answers = batch.send()
    if governor.answer(answers[0])[0] != "ok":
        return None
    if not governor.buckets.gate_answer(answers[1] if len(answers) > 1 else None)[0]:
        log.info("roles of character %s wait for its ESI bucket", row.character_id)
        return None  # this character's bucket is spent: only its own roles call waits
    try:
        answer = client.roles(row.character_id, access_token)
        if DIRECTOR_ROLE not in (answer.get("roles") or []):
            return False
        if get_governor().gate(ESI_UPSTREAM)[0] != "ok":
            return None
        where = client.affiliation([row.character_id])
    except EveError as exc:
        log.info("roles of character %s not read: %s", row.character_id, exc)
        return None
    now_in = next((r["corporation_id"] for r in where if r.get("character_id") == row.character_id), None)
    if now_in != row.corporation_id:
        log.info("character %s holds Director elsewhere (%s); not credited", row.character_id, now_in)
        return False
    return True
