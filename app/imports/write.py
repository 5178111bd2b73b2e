"""Writing an import plan: corporations and tracking first, then users in batches, each batch of
users in one transaction (written whole or not at all)."""

from sqlalchemy import bindparam, insert, update

from app import crypto
from app.access.models import Grant
from app.access.state import reconcile_states
from app.accounts.models import User, new_session_token
from app.audit import AuditEntry
from app.clock import utcnow
from app.corps.models import Alliance, Character, Corporation
from app.extensions import db, write_transaction
from app.imports.progress import SOURCE
from app.keys.models import Key
from app.services.models import DiscordLink

BATCH = 500


def apply(plan, progress=None):
    """Write the plan: corporations and tracking first, then users in batches of BATCH, each batch in
    one transaction. Returns how many users were written."""
    now = utcnow()
    with write_transaction():
        _write_entities(plan, now)
    users = [u for u in plan.users if u.changes]
    done = 0
    for start in range(0, len(users), BATCH):
        batch = users[start : start + BATCH]
        with write_transaction():
            _write_users(batch, now)
        done += len(batch)
        if progress:
            progress(done, len(users))
    return done


def _write_entities(plan, now):
    if plan.new_alliances:
        db.session.execute(
            insert(Alliance),
            [
                {"id": aid, "name": info.get("name") or "", "ticker": info.get("ticker") or ""}
                for aid, info in plan.new_alliances.items()
            ],
        )
    if plan.new_corporations:
        db.session.execute(
            insert(Corporation),
            [
                {
                    "id": cid,
                    "name": info.get("name") or "",
                    "ticker": info.get("ticker") or "",
                    "alliance_id": info.get("alliance_id"),
                }
                for cid, info in plan.new_corporations.items()
            ],
        )
    for (kind, eid), tracking in plan.tracking.items():
        model = Corporation if kind == "corporation" else Alliance
        db.session.execute(update(model).where(model.id == eid).values(tracked_as=tracking))
    if plan.tracking:
        db.session.add(
            AuditEntry(
                created_at=now,
                action="tracking.imported",
                target_type="import",
                target_id=SOURCE,
                detail=", ".join(
                    f"{kind} {eid} as {tracking}" for (kind, eid), tracking in sorted(plan.tracking.items())
                )[:4000],
            )
        )


def _write_users(batch, now):
    users = User.__table__
    new = [u for u in batch if u.user_id is None]
    if new:
        made = (
            db.session.execute(
                insert(users).returning(users.c.id, sort_by_parameter_order=True),
                [
                    {
                        "role": "member",
                        "state": "guest",
                        "created_at": now,
                        "session_token": new_session_token(),
                        "is_active_account": True,
                        "notify_by_dm": True,
                    }
                    for _ in new
                ],
            )
            .scalars()
            .all()
        )
        for plan_user, user_id in zip(new, made, strict=True):
            plan_user.user_id = user_id
    known = [
        {"cid": c["id"], "uid": u.user_id, "owner": c["owner_hash"]}
        for u in batch
        for c in u.characters
        if c["known"]
    ]
    _update_each(Character, "cid", {"user_id": bindparam("uid"), "owner_hash": bindparam("owner")}, known)
    fresh = [
        {
            "id": c["id"],
            "name": c["name"],
            "user_id": u.user_id,
            "owner_hash": c["owner_hash"],
            "corporation_id": c["corporation_id"],
            "alliance_id": c["alliance_id"],
            "is_director": False,
            "created_at": now,
        }
        for u in batch
        for c in u.characters
        if not c["known"]
    ]
    if fresh:
        db.session.execute(insert(Character), fresh)
    _update_each(
        User,
        "uid",
        {"main_character_id": bindparam("main")},
        [{"uid": u.user_id, "main": u.main} for u in new],
    )
    added = [
        {
            "user_id": u.user_id,
            "character_id": k["character_id"],
            "owner_hash": k["owner_hash"],
            "scopes": k["scopes"],
            "refresh_token_encrypted": crypto.encrypt(k["token"]),
            "status": "pending",
            "next_check_at": now,
            "created_at": now,
            "source": SOURCE,
            "needs_reauth": False,
            "consecutive_failures": 0,
        }
        for u in batch
        for k in u.keys
        if not k["replaces"]
    ]
    if added:
        db.session.execute(insert(Key), added)
    replaced = [
        {"kid": k["replaces"], "token": crypto.encrypt(k["token"]), "scopes": k["scopes"]}
        for u in batch
        for k in u.keys
        if k["replaces"]
    ]
    _update_each(
        Key,
        "kid",
        {"refresh_token_encrypted": bindparam("token"), "scopes": bindparam("scopes"), "next_check_at": now},
        replaced,
    )
    links = [
        {
            "user_id": u.user_id,
            "discord_user_id": u.discord[0],
            "username": (u.discord[1] or u.discord[0])[:64],
            "linked_at": now,
        }
        for u in batch
        if u.discord
    ]
    if links:
        db.session.execute(insert(DiscordLink), links)
    grants = [
        {
            "user_id": u.user_id,
            "service_id": service_id,
            "status": "pending",
            "source": "manual",
            "reason": "Carried over from Alliance Auth.",
            "sync_status": "pending",
            "created_at": now,
            "updated_at": now,
        }
        for u in batch
        for service_id in u.services
    ]
    if grants:
        db.session.execute(insert(Grant), grants)
    # The state each user had there stands until their main's first check here (standing_status).
    reconcile_states(db.session.connection(), [u.user_id for u in batch], now)
    db.session.execute(
        insert(AuditEntry),
        [
            {
                "created_at": now,
                "action": "user.imported",
                "target_type": "user",
                "target_id": str(u.user_id),
                "target_name": u.main_name[:255],
                "detail": _imported_detail(u),
            }
            for u in batch
        ],
    )


def _imported_detail(user):
    parts = [f"from Alliance Auth (user {user.username!r})"]
    if user.joined:
        parts.append("joined to the user already here")
    parts.append(f"{plural(len(user.characters), 'character')}, {plural(len(user.keys), 'key')}")
    if user.discord:
        parts.append("Discord link")
    if user.services:
        parts.append(plural(len(user.services), "service"))
    return "; ".join(parts)


def plural(number, word):
    """ "1 key", "2 keys"."""
    return f"{number} {word}{'' if number == 1 else 's'}"


def _update_each(model, id_name, values, rows):
    """One UPDATE of model's rows, run for each row of parameters (its id under id_name)."""
    if rows:
        table = model.__table__
        db.session.execute(update(table).where(table.c.id == bindparam(id_name)).values(**values), rows)
