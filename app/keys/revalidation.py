"""A director's "Re-validate all": which keys of a corporation to check, and how far the checks are."""

import time
from datetime import UTC, datetime

from sqlalchemy import func

from app.corps.models import Character
from app.extensions import db
from app.jobs import redis_keys
from app.jobs.connection import get_redis
from app.keys.models import Key

REVALIDATION_TTL = 6 * 3600


def start(corporation_id):
    """Remember that a re-validation starts now; the ids of the corporation's keys to check."""
    key_ids = db.session.scalars(
        db.select(Key.id)
        .join(Character, Character.id == Key.character_id)
        .where(Character.corporation_id == corporation_id)
    ).all()
    started = time.time()
    get_redis().set(
        redis_keys.revalidation(corporation_id), f"{started:.3f}|{len(key_ids)}", ex=REVALIDATION_TTL
    )
    return key_ids


def progress(corporation_id):
    """How far the last "Re-validate all" has come, or None."""
    raw = get_redis().get(redis_keys.revalidation(corporation_id))
    if not raw:
        return None
    started_text, _, total_text = raw.partition("|")
    started = datetime.fromtimestamp(float(started_text), UTC).replace(tzinfo=None)
    rows = db.session.execute(
        db.select(Key.status, func.count())
        .join(Character, Character.id == Key.character_id)
        .where(Character.corporation_id == corporation_id, Key.last_checked_at >= started)
        .group_by(Key.status)
    ).all()
    by_status = dict(rows)
    done = sum(by_status.values())
    total = int(total_text)
    return {
        "total": total,
        "done": min(done, total),
        "by_status": by_status,
        "finished": done >= total,
        "started": float(started_text),
    }
