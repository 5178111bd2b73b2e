"""Directors: from ESI's Director role (checked with each key) or appointed by an admin.

A user directs a tracked corporation when one of their characters in it holds the Director role,
or when an admin appointed them. Directorships from ESI follow the roles: they come and go with
the checks; appointed ones stay until an admin ends them.
"""

from app.accounts.models import Directorship, User
from app.audit import record
from app.corps.models import Alliance, Character, Corporation
from app.extensions import db, write_transaction

DIRECTOR_ROLE = "Director"


def tracked_clause():
    """SQL: the corporation counts as member or blue, itself or through its alliance (join Alliance outer)."""
    return db.and_(
        db.or_(Corporation.tracked_as.in_(("member", "blue")), Alliance.tracked_as.in_(("member", "blue"))),
        _not_hostile(),
    )


def member_clause():
    """SQL: the corporation is tracked as member, itself or through its alliance (join Alliance outer)."""
    return db.and_(
        db.or_(Corporation.tracked_as == "member", Alliance.tracked_as == "member"), _not_hostile()
    )


def _not_hostile():
    """SQL: neither the corporation nor its alliance is tracked as hostile (hostile outweighs the rest,
    as it does for a user's state)."""
    return db.and_(
        db.func.coalesce(Corporation.tracked_as, "") != "hostile",
        db.func.coalesce(Alliance.tracked_as, "") != "hostile",
    )


def tracked_corporations():
    """Every corporation tracked as member or blue, itself or through its alliance, by name."""
    return db.session.scalars(
        db.select(Corporation)
        .outerjoin(Alliance, Alliance.id == Corporation.alliance_id)
        .where(tracked_clause())
        .order_by(Corporation.name)
    ).all()


def _trackings(corporation):
    """How the corporation and its alliance are tracked; nothing counts when either is hostile."""
    alliance = corporation.alliance.tracked_as if corporation.alliance is not None else None
    trackings = {corporation.tracked_as, alliance}
    return set() if "hostile" in trackings else trackings


def is_tracked(corporation):
    """True when the corporation counts as member or blue, itself or through its alliance."""
    return bool(_trackings(corporation) & {"member", "blue"})


def is_member_corporation(corporation):
    """True when the corporation counts as member, itself or through its alliance."""
    return "member" in _trackings(corporation)


def record_director_role(user_id, character_id, is_director):
    """Record what a roles check said of a character, and bring the user's directorships in line."""
    with write_transaction() as session:
        character = session.get(Character, character_id)
        if character is None:
            return
        character.is_director = is_director
    reconcile_directorships(user_id, "no Director role any more")


def drop_director_roles(character_ids, reason):
    """Characters that no longer prove a directorship (they left the corporation, their key turned
    invalid or was removed): their Director role is forgotten and their users' directorships
    reconciled, audited with the reason."""
    with write_transaction() as session:
        characters = session.scalars(
            db.select(Character).where(Character.id.in_(list(character_ids)), Character.is_director.is_(True))
        ).all()
        user_ids = {c.user_id for c in characters if c.user_id is not None}
        for character in characters:
            character.is_director = False
    for user_id in user_ids:
        reconcile_directorships(user_id, reason)
    return len(characters)


def reconcile_directorships(user_id, reason):
    """Bring a user's directorships from ESI in line with their characters' Director roles.

    Only a corporation tracked as member makes a Director role count. Appointed directorships are
    left alone: an admin ends them.
    """
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            return
        wanted = set(
            session.scalars(
                db.select(Character.corporation_id)
                .join(Corporation, Corporation.id == Character.corporation_id)
                .outerjoin(Alliance, Alliance.id == Corporation.alliance_id)
                .where(Character.user_id == user_id, Character.is_director.is_(True), member_clause())
            )
        )
        held = {d.corporation_id: d for d in user.directorships}
        for corporation_id in wanted - set(held):
            user.directorships.append(Directorship(corporation_id=corporation_id, source="esi"))
            record("director.esi", None, target=user, detail=f"Director role in corporation {corporation_id}")
        for corporation_id, directorship in held.items():
            if directorship.source == "esi" and corporation_id not in wanted:
                user.directorships.remove(directorship)
                record(
                    "director.esi_lost",
                    None,
                    target=user,
                    detail=f"no longer directs corporation {corporation_id}",
                    reason=reason,
                )
        session.flush()
        if user.directorships and user.role == "member":
            user.role = "director"
            record("user.role", None, target=user, detail="member -> director (Director role)")
        elif not user.directorships and user.role == "director":
            user.role = "member"
            record("user.role", None, target=user, detail="director -> member (no corporation to direct)")


def directs(user, corporation_id):
    """True when the user may act for the corporation: an admin; a director appointed there; or a
    director by ESI's role while the corporation is tracked as member."""
    if user.is_admin:
        return True
    for directorship in user.directorships:
        if directorship.corporation_id != corporation_id:
            continue
        if directorship.source == "appointed" or is_member_corporation(directorship.corporation):
            return True
    return False


class DirectorshipRefused(Exception):
    """An appointment that cannot be made; the message says why, for the admin."""


def appoint(user, corporation, actor):
    """Appoint a user director of a corporation (by an admin); audited and committed."""
    existing = db.session.scalars(
        db.select(Directorship).filter_by(user_id=user.id, corporation_id=corporation.id)
    ).first()
    if existing is not None:
        raise DirectorshipRefused(f"{user.display_name} directs {corporation.name} already.")
    db.session.add(Directorship(user=user, corporation=corporation, source="appointed"))
    if user.role == "member":
        user.role = "director"
    record("director.appoint", actor, target=user, detail=f"{corporation.name} [{corporation.ticker}]")
    db.session.commit()


def dismiss(user, directorship, actor):
    """End a user's directorship; a director with none left is a member again. Audited, committed."""
    name = directorship.corporation.name
    db.session.delete(directorship)
    db.session.flush()
    if user.role == "director" and not user.directorships:
        user.role = "member"
    record("director.dismiss", actor, target=user, detail=name)
    db.session.commit()
    return name
