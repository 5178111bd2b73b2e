"""Members' Mumble accounts: the username the service's template makes, a password Bastion makes
and shows once (kept only as a hash), and the decision on each login."""

import logging
import secrets
from dataclasses import dataclass, field

from werkzeug.security import check_password_hash, generate_password_hash

from app.access.models import held_grant
from app.accounts.models import User, signed_out_everywhere
from app.clock import utcnow
from app.extensions import db
from app.services.groups import groups_of
from app.services.models import MumbleAccount, Service

log = logging.getLogger(__name__)
REFUSED, UNKNOWN = -1, -2  # Murmur's answers: wrong credentials; not ours (its own users decide)
# Murmur keeps a record under the id an authenticator returns; ours start far above its own users'.
ID_OFFSET = 1_000_000_000


def account_of(service_id, user_id):
    """A member's account on a Mumble service, or None."""
    return db.session.scalars(
        db.select(MumbleAccount).filter_by(service_id=service_id, user_id=user_id)
    ).first()


# Names Murmur keeps for itself: its SuperUser (any case) is never a member's login or name.
RESERVED = {"superuser"}


def fold(name):
    """A name as logins compare it: case-folded the same way whatever the database."""
    return (name or "").strip().casefold()


def _taken(service_id, username, user_id):
    return (
        db.session.scalars(
            db.select(MumbleAccount.id).where(
                MumbleAccount.service_id == service_id,
                MumbleAccount.username_folded == fold(username),
                MumbleAccount.user_id != user_id,
            )
        ).first()
        is not None
    )


def _murmurs(service):
    """Names Murmur keeps for itself on this service's server: its SuperUser and its own users."""
    return RESERVED | {fold(name) for name in service.settings.get("murmur_names", [])}


def reserve_murmur_names(service_id, names):
    """Murmur's own users on a service's server are these: remember them, and rename a member whose
    name is one of them; True when anything changed (committed)."""
    service = db.session.get(Service, service_id)
    wanted = sorted(set(names))
    if service is None or service.settings.get("murmur_names", []) == wanted:
        return False
    service.settings = {**service.settings, "murmur_names": wanted}
    taken = {fold(name) for name in wanted}
    for account in db.session.scalars(db.select(MumbleAccount).filter_by(service_id=service_id)):
        if account.username_folded in taken:
            ensure_account(service, account.user_id, account.username)
    db.session.commit()
    return True


def ensure_account(service, user_id, name):
    """The member's account, made or renamed to the template's name; the caller commits.

    The login and the name Murmur shows are one and the same, and unique on the server: a name
    another member has already, or one Murmur keeps for itself (SuperUser, its own registered
    users), gets " #<user id>".
    """
    clash = fold(name) in _murmurs(service) or _taken(service.id, name, user_id)
    username = f"{name[:110]} #{user_id}" if clash else name
    account = account_of(service.id, user_id)
    if account is None:
        account = MumbleAccount(
            service_id=service.id, user_id=user_id, username=username, display_name=username
        )
        db.session.add(account)
    account.username, account.display_name = username, username
    account.username_folded = fold(username)
    return account


# Murmur waits for each login's answer (the whole server stalls meanwhile), and a password Bastion
# made carries 140 random bits, beyond any guessing however fast its hash: a light PBKDF2 (about
# 7 ms here) instead of the 170 ms scrypt members' own passwords get.
HASH_METHOD = "pbkdf2:sha256:10000"
# Letters and digits without look-alikes (0 and O, 1, l and I), so a password copied by eye from
# another screen comes out right; four groups of six (57 ** 24 is about 2 ** 140).
UNAMBIGUOUS = "23456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"


@signed_out_everywhere.connect
def forget_passwords(user, **_):
    """The user was signed out everywhere: their Mumble passwords stop working (they make new ones)."""
    db.session.execute(
        db.update(MumbleAccount).where(MumbleAccount.user_id == user.id).values(password_hash=None)
    )


def new_password(account):
    """Give the account a new password and return it; only its hash is kept (the caller commits)."""
    password = "-".join("".join(secrets.choice(UNAMBIGUOUS) for _ in range(6)) for _ in range(4))
    account.password_hash = generate_password_hash(password, method=HASH_METHOD)
    account.password_set_at = utcnow()
    return password


@dataclass
class Login:
    """Murmur's answer to a login: the user id (or REFUSED/UNKNOWN), the name to show, the groups."""

    user_id: int
    name: str = ""
    groups: list[str] = field(default_factory=list)
    why: str = ""


def decide(service_id, username, password):
    """Whether a login to a Mumble service goes through, and why."""
    service = db.session.get(Service, service_id)
    if service is not None and fold(username) in _murmurs(service):
        return Login(UNKNOWN, why="one of the server's own users")
    account = db.session.scalars(
        db.select(MumbleAccount).where(
            MumbleAccount.service_id == service_id, MumbleAccount.username_folded == fold(username)
        )
    ).first()
    if service is None or account is None:
        # Not a name Bastion made: Murmur's own registered users (and its rules) decide.
        return Login(UNKNOWN, why="no Bastion account has this username")
    if not account.password_hash or not check_password_hash(account.password_hash, password or ""):
        return Login(REFUSED, why="wrong password")
    user = db.session.get(User, account.user_id)
    if held_grant(user, service) is None:
        return Login(REFUSED, why=f"no access to {service.name}")
    groups = sorted(set(service.settings.get("groups") or []) | set(groups_of(user)))
    return Login(ID_OFFSET + account.id, account.display_name, groups, why="active grant")
