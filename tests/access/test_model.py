"""The whole access model as a state machine (hypothesis), against the real database, the real
reconciliation and the director portal over HTTP.

Steps: people join with a main in a member, blue, hostile-alliance or untracked corporation; alts
are added; characters move; keys turn invalid (revoked at SSO, sold) and valid again, or are
removed by their member; corporations are
tracked and untracked; admins appoint and dismiss directors; directors grant and revoke by hand
(with expiry) and decide requests through their portal, in and out of their lane; members ask
for services; policies change; the clock moves on (grants by hand expire, grace periods end).
After every step, with every user reconciled: every active grant is justified by policy or by a
live grant by hand or on request that policy allows, or is in its grace period; nothing policy
gives is missing; no access is removed before its grace period ends except by the main leaving
for a hostile or untracked corporation (or by someone's decision); a fixed cause always cancels
the removal; no director action outside its scope succeeded; and every grant has its audit trail.
"""

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from app.access.models import AccessRequest, Grant
from app.access.reconcile import reconcile_user
from app.accounts.models import Directorship, User
from app.audit import AuditEntry
from app.clock import utcnow
from app.corps.models import Alliance, Character, Corporation
from app.keys.logic import KeyRefused, remove_key
from app.keys.models import Key
from app.services.models import Service
from tests.support import csrf_token_from

CORPS = {"home": 98000301, "away": 98000302, "friends": 98000303, "horde": 98000304, "nobody": 98000305}
HORDE_ALLIANCE = 99000306
TRACKINGS = ["member", "member", "blue", "hostile", None]
SERVICES = ["auto", "ask", "approve", "every"]
# Most people join where they count, so that there is access to lose.
JOIN_IN = ["home", "home", "home", "away", "friends", "horde", "nobody"]
PASSWORD = "correct horse battery"


def _clear(db):
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    db.session.expunge_all()


class AccessModel(RuleBasedStateMachine):
    """People, characters, corporations, services, directors and their actions."""

    def __init__(self, db, client, auth, redis):
        super().__init__()
        self.db, self.client, self.auth = db, client, auth
        _clear(db)
        # Each example starts with a closed incident guard: the examples' users (new ids on
        # PostgreSQL) would otherwise add up in its window to what looks like a mass removal.
        guard_keys = redis.keys("bastion:guard:*")
        if guard_keys:
            redis.delete(*guard_keys)
        db.session.add(Alliance(id=HORDE_ALLIANCE, name="Horde", ticker="HRD", tracked_as="hostile"))
        db.session.flush()
        for name, corp_id in CORPS.items():
            tracked = {"home": "member", "away": "member", "friends": "blue"}.get(name)
            alliance = HORDE_ALLIANCE if name == "horde" else None
            db.session.add(
                Corporation(
                    id=corp_id,
                    name=name.title(),
                    ticker=name[:4].upper(),
                    tracked_as=tracked,
                    alliance_id=alliance,
                )
            )
        self.services = {
            "auto": Service(slug="auto", name="Auto", kind="forward_auth", auto_states="member,blue"),
            "ask": Service(slug="ask", name="Ask", kind="forward_auth", request_states="member"),
            "approve": Service(
                slug="approve",
                name="Approve",
                kind="forward_auth",
                requires_approval=True,
                request_states="member,blue",
                directors_may_grant=True,
            ),
            "every": Service(
                slug="every",
                name="Every",
                kind="forward_auth",
                auto_states="member",
                qualify="every",
                strict=True,
            ),
        }
        db.session.add_all(self.services.values())
        db.session.commit()
        self.people = []  # user ids
        self.directors = {}  # user id -> corporation id appointed
        self.next_character = 2130000001
        self.out_of_lane = []  # (description, grant ids before, grant ids after)

    # ---- helpers -----------------------------------------------------------------------------
    def _character(self, user_id, corp, main):
        db = self.db
        character = Character(
            id=self.next_character,
            name=f"Pilot {self.next_character - 2130000000}",
            user_id=user_id,
            corporation_id=CORPS[corp],
            alliance_id=HORDE_ALLIANCE if corp == "horde" else None,
        )
        self.next_character += 1
        db.session.add(character)
        db.session.flush()
        db.session.add(
            Key(
                user_id=user_id,
                character_id=character.id,
                owner_hash="h",
                scopes="s",
                refresh_token_encrypted="x",
                status="valid",
            )
        )
        if main:
            db.session.get(User, user_id).main_character_id = character.id
        return character

    def _reconcile_all(self):
        for user_id in self.people:
            reconcile_user(user_id)
        self.db.session.expire_all()

    def _as(self, user_id):
        self.auth.logout()
        user = self.db.session.get(User, user_id)
        assert self.auth.login(user.username).status_code == 302
        return csrf_token_from(self.client.get("/services").get_data(as_text=True))

    def _grants_snapshot(self):
        self.db.session.expire_all()
        return {(g.id, g.status, g.source) for g in self.db.session.scalars(self.db.select(Grant))}

    # ---- rules -------------------------------------------------------------------------------
    @initialize()
    def founders(self):
        """A member and a director of the home corporation, and a blue, to start from."""
        self.join("home", director=False)
        self.join("home", director=True)
        self.join("friends", director=False)

    @precondition(lambda self: len(self.people) < 6)
    @rule(corp=st.sampled_from(JOIN_IN), director=st.booleans())
    def join(self, corp, director):
        db = self.db
        user = User(username=f"u{len(self.people)}x{self.next_character}", role="member", state="guest")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.flush()
        self._character(user.id, corp, main=True)
        db.session.commit()
        self.people.append(user.id)
        if director:
            db.session.add(Directorship(user_id=user.id, corporation_id=CORPS[corp], source="appointed"))
            user.role = "director"
            db.session.commit()
            self.directors[user.id] = CORPS[corp]

    @precondition(lambda self: self.people)
    @rule(data=st.data(), corp=st.sampled_from(list(CORPS)))
    def add_alt(self, data, corp):
        user_id = data.draw(st.sampled_from(self.people))
        self._character(user_id, corp, main=False)
        self.db.session.commit()

    @precondition(lambda self: self.people)
    @rule(data=st.data(), corp=st.sampled_from(list(CORPS)))
    def move(self, data, corp):
        characters = self.db.session.scalars(
            self.db.select(Character).where(Character.user_id.in_(self.people))
        ).all()
        character = data.draw(st.sampled_from(characters))
        character.corporation_id = CORPS[corp]
        character.alliance_id = HORDE_ALLIANCE if corp == "horde" else None
        self.db.session.commit()

    @precondition(lambda self: self.people)
    @rule(data=st.data(), status=st.sampled_from(["valid", "invalid", "error"]))
    def key_verdict(self, data, status):
        keys = self.db.session.scalars(
            self.db.select(Key).where(Key.user_id.in_(self.people)).order_by(Key.id)
        ).all()
        if not keys:  # every key was removed
            return
        key = data.draw(st.sampled_from(keys))
        key.status = status
        self.db.session.commit()

    @precondition(lambda self: self.people)
    @rule(data=st.data())
    def remove_key(self, data):
        keys = self.db.session.scalars(
            self.db.select(Key).where(Key.user_id.in_(self.people)).order_by(Key.id)
        ).all()
        if not keys:
            return
        key = data.draw(st.sampled_from(keys))
        try:
            remove_key(self.db.session.get(User, key.user_id), key)  # as the member does
        except KeyRefused:  # the main's key while others remain
            self.db.session.rollback()
            return
        self.db.session.commit()

    @rule(corp=st.sampled_from(list(CORPS)), tracked=st.sampled_from(TRACKINGS))
    def track(self, corp, tracked):
        self.db.session.get(Corporation, CORPS[corp]).tracked_as = tracked
        self.db.session.commit()

    @precondition(lambda self: self.directors)
    @rule(data=st.data())
    def dismiss(self, data):
        user_id = data.draw(st.sampled_from(sorted(self.directors)))
        self.db.session.query(Directorship).filter_by(user_id=user_id).delete()
        self.db.session.get(User, user_id).role = "member"
        self.db.session.commit()
        del self.directors[user_id]

    @precondition(lambda self: self.people)
    @rule(data=st.data(), service=st.sampled_from(["ask", "ask", "approve", "approve", "auto", "every"]))
    def ask(self, data, service):
        user_id = data.draw(st.sampled_from(self.people))
        token = self._as(user_id)
        answer = self.client.post(f"/services/{service}/request", data={"csrf_token": token})
        assert answer.status_code in (302, 400)

    def _lane_draws(self, data, user_ids):
        """A director, a user and a corporation: often the director's own corporation and themselves,
        so that both the lane and its edges are tried."""
        director = data.draw(st.sampled_from(sorted(self.directors)))
        user_id = data.draw(st.sampled_from([director, *user_ids]))
        corp = data.draw(st.sampled_from([self.directors[director]] * 3 + list(CORPS.values())))
        return director, user_id, corp

    @precondition(lambda self: self.directors and self.people)
    @rule(
        data=st.data(),
        service=st.sampled_from(["approve", "approve", *SERVICES]),
        hours=st.sampled_from([None, 1, -1]),
    )
    def director_grants(self, data, service, hours):
        director, user_id, corp = self._lane_draws(data, self.people)
        token = self._as(director)
        before = self._grants_snapshot()
        form = {"csrf_token": token, "service": service, "reason": "state machine"}
        if hours is not None:
            form["expires_at"] = (utcnow() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S")
        answer = self.client.post(f"/director/corporations/{corp}/members/{user_id}/grants", data=form)
        in_lane = self._in_lane(director, user_id, corp) and self.services[service].directors_may_grant
        if answer.status_code in (200, 302) and not in_lane:
            self.out_of_lane.append(("grant", director, user_id, corp, service, answer.status_code))
        if not in_lane:
            assert self._grants_snapshot() == before

    @precondition(lambda self: self.directors)
    @rule(data=st.data())
    def director_revokes(self, data):
        grants = self.db.session.scalars(
            self.db.select(Grant).where(Grant.source != "policy").order_by(Grant.id)
        ).all()
        if not grants:
            return
        grant = data.draw(st.sampled_from(grants))
        director = data.draw(st.sampled_from(sorted(self.directors)))
        corp = data.draw(st.sampled_from([self.directors[director]] * 3 + list(CORPS.values())))
        token = self._as(director)
        before = self._grants_snapshot()
        answer = self.client.post(
            f"/director/corporations/{corp}/grants/{grant.id}/revoke", data={"csrf_token": token}
        )
        if answer.status_code == 302 and not self._in_lane(director, grant.user_id, corp):
            self.out_of_lane.append(("revoke", director, grant.user_id, corp, answer.status_code))
        if not self._in_lane(director, grant.user_id, corp):
            assert self._grants_snapshot() == before

    @precondition(lambda self: self.directors)
    @rule(data=st.data(), approve=st.booleans())
    def director_decides(self, data, approve):
        requests = self.db.session.scalars(
            self.db.select(AccessRequest).filter_by(status="pending").order_by(AccessRequest.id)
        ).all()
        if not requests:
            return
        request = data.draw(st.sampled_from(requests))
        director = data.draw(st.sampled_from(sorted(self.directors)))
        corp = data.draw(st.sampled_from([self.directors[director]] * 3 + list(CORPS.values())))
        token = self._as(director)
        answer = self.client.post(
            f"/director/corporations/{corp}/requests/{request.id}",
            data={"csrf_token": token, "decision": "approve" if approve else "deny"},
        )
        if answer.status_code == 302 and not self._in_lane(director, request.user_id, corp):
            self.out_of_lane.append(("decide", director, request.user_id, corp, answer.status_code))

    @rule(service=st.sampled_from(SERVICES), auto=st.sampled_from(["", "member", "member,blue"]))
    def change_policy(self, service, auto):
        self.db.session.get(Service, self.services[service].id).auto_states = auto
        self.db.session.commit()

    @rule()
    def time_passes(self):
        # Grants by hand that were given with a future expiry now end, and so do grace periods: move
        # their ends into the past.
        for grant in self.db.session.scalars(self.db.select(Grant).where(Grant.expires_at.is_not(None))):
            grant.expires_at = utcnow() - timedelta(seconds=1)
        for grant in self.db.session.scalars(self.db.select(Grant).where(Grant.ends_at.is_not(None))):
            grant.ends_at = utcnow() - timedelta(seconds=1)
        self.db.session.commit()

    # ---- what must always be true ---------------------------------------------------------------
    def _in_lane(self, director_id, user_id, corporation_id):
        """The independent rule: an appointed director acts in their own corporation (tracked as member
        or blue), on someone else whose main is there."""
        db = self.db
        if self.directors.get(director_id) != corporation_id or director_id == user_id:
            return False
        corp = db.session.get(Corporation, corporation_id)
        if corp.tracked_as not in ("member", "blue"):
            return False
        user = db.session.get(User, user_id)
        main = db.session.get(Character, user.main_character_id) if user.main_character_id else None
        return main is not None and main.corporation_id == corporation_id

    def _main_standing(self, user):
        """(the main's key proves its affiliation, the state its corporation and alliance give)."""
        main = self.db.session.get(Character, user.main_character_id)
        key = self.db.session.scalars(self.db.select(Key).filter_by(character_id=main.id)).first()
        corp = self.db.session.get(Corporation, main.corporation_id)
        alliance = self.db.session.get(Alliance, main.alliance_id) if main.alliance_id else None
        tracked = {corp.tracked_as, alliance.tracked_as if alliance else None}
        if "hostile" in tracked:
            where = "guest"
        else:
            where = "member" if "member" in tracked else "blue" if "blue" in tracked else "guest"
        return key is not None and key.status in ("valid", "error"), where

    def _expected_state(self, user):
        proves, where = self._main_standing(user)
        return where if proves else "guest"

    def _hostile_alt(self, user):
        for character in self.db.session.scalars(self.db.select(Character).filter_by(user_id=user.id)):
            corp = self.db.session.get(Corporation, character.corporation_id)
            alliance = self.db.session.get(Alliance, character.alliance_id) if character.alliance_id else None
            if "hostile" in (corp.tracked_as, alliance.tracked_as if alliance else None):
                return True
        return False

    @staticmethod
    def _justified(grant, service, state, now):
        live = (
            grant is not None
            and grant.status != "revoked"
            and (grant.expires_at is None or grant.expires_at > now)
        )
        by_hand = live and grant.source == "manual"
        on_request = live and grant.source == "request" and state in service.request_state_list
        return by_hand or on_request or state in service.auto_state_list

    @invariant()
    def grants_are_justified_and_complete(self):
        db = self.db
        db.session.expire_all()
        now = utcnow()
        # Each grant as the step left it: was it active, and was its grace period still running?
        before = {
            g.id: (g.status, g.ends_at is None or g.ends_at > now)
            for g in db.session.scalars(db.select(Grant))
        }
        self._reconcile_all()
        for user_id in self.people:
            user = db.session.get(User, user_id)
            state = self._expected_state(user)
            assert user.state == state
            proves, where = self._main_standing(user)
            invalid = db.session.scalars(db.select(Key).filter_by(user_id=user_id, status="invalid")).first()
            for name, service in self.services.items():
                service = db.session.get(Service, service.id)
                grant = db.session.scalars(
                    db.select(Grant).filter_by(user_id=user_id, service_id=service.id)
                ).first()
                justified = self._justified(grant, service, state, now)
                by_policy = state in service.auto_state_list
                blocked = (service.qualify == "every" and self._hostile_alt(user)) or (
                    service.strict and invalid is not None
                )
                if by_policy:
                    assert grant is not None and grant.status in ("active", "suspended"), (name, state)
                if grant is None:
                    continue
                if justified and not blocked and grant.status != "revoked":
                    # Nothing to remove: active, and a grace period that was running is cancelled.
                    assert (grant.status, grant.ends_at) == ("active", None), (name, grant.reason)
                    continue
                # A key or an alt causes it (fixing it would keep access): the removal waits.
                graceful = (justified and blocked) or (
                    not justified
                    and not proves
                    and where != state
                    and self._justified(grant, service, where, now)
                )
                was_active, grace_running = before.get(grant.id, ("none", True))
                if graceful and was_active == "active" and grace_running:
                    assert grant.status == "active" and grant.ends_at > now, (
                        name,
                        grant.status,
                        grant.reason,
                    )
                    continue
                assert grant.ends_at is None, (name, grant.status, grant.ending_reason)
                if grant.status in ("active", "suspended"):
                    assert justified, (name, state, grant.status, grant.source, grant.reason)
                    assert grant.status == ("suspended" if blocked else "active"), (name, grant.reason)

    @invariant()
    def no_director_acted_outside_their_lane(self):
        assert self.out_of_lane == []

    @invariant()
    def every_grant_has_its_audit_trail(self):
        db = self.db
        audited = set(
            db.session.scalars(db.select(AuditEntry.target_id).where(AuditEntry.target_type == "grant")).all()
        )
        for grant in db.session.scalars(db.select(Grant)):
            assert str(grant.id) in audited


MODEL_SETTINGS = settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.timeout(900)  # shrinking a failure takes longer than a passing run
def test_the_access_model_holds_its_invariants(db, client, auth, redis_client):
    run_state_machine_as_test(lambda: AccessModel(db, client, auth, redis_client), settings=MODEL_SETTINGS)
