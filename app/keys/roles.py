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


def gate_roles(row):
    """The round trip right after SSO answered a key's refresh, carrying what the check has to
    write (the rotated token first): ESI's gate and the character's bucket for the roles call.
    True when the call may go; False when ESI's governor or the bucket says wait (the answer
    waits for the next check: a key's verdict never depends on it); None when the key is not
    asked about roles (no roles scope, or a corporation not tracked as member): the pending
    writes go all the same."""
    governor, batch = get_governor(), Batch(get_redis())
    if ROLES_SCOPE not in row.scopes.split() or "member" not in (row.tracked_as, row.alliance_tracked_as):
        batch.send()
        return None
    governor.check_into(batch, ESI_UPSTREAM)
    governor.buckets.gate_into(batch, ROLES_ROUTE, f"character:{row.character_id}")
    answers = batch.send()
    if governor.answer(answers[0])[0] != "ok":
        return False
    if not governor.buckets.gate_answer(answers[1] if len(answers) > 1 else None)[0]:
        log.info("roles of character %s wait for its ESI bucket", row.character_id)
        return False  # this character's bucket is spent: only its own roles call waits
    return True


def holds_director_role(client, row, access_token, scopes, gated):
    """Whether the character holds the Director role in the corporation Bastion has it in; None
    when unknown.

    gated: what gate_roles() answered. Asked only with the roles scope and only for corporations
    tracked as member; when ESI's governor says wait, or ESI fails, the answer waits for the next
    check. ESI answers with the roles the character holds where it is now, so a Director role is
    credited only after ESI confirms the character is still in that corporation: a character that
    moved holds no directorship in its old corporation.
    """
    if not gated or ROLES_SCOPE not in scopes:
        return None
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
