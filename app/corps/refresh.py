"""corps.refresh: names and tickers of corporations and alliances, asked again only after they expire."""

import logging
from datetime import timedelta

from sqlalchemy import or_, select

from app.clock import utcnow
from app.corps.logic import CACHE_SECONDS, apply_alliance, apply_corporation
from app.corps.models import Alliance, Corporation
from app.eve import get_client
from app.eve.errors import EveError, NotFound
from app.extensions import db
from app.jobs.setup import get_governor

log = logging.getLogger(__name__)

BATCH = 100


def refresh_due(batch=BATCH):
    """Refresh expired or unnamed corporations and alliances; returns (refreshed, wait seconds)."""
    now = utcnow()
    refreshed = 0
    for model, fetch in ((Corporation, "corporation"), (Alliance, "alliance")):
        ids = db.session.scalars(
            select(model.id)
            .where(or_(model.expires_at.is_(None), model.expires_at <= now, model.name == ""))
            .order_by(model.expires_at.is_not(None), model.expires_at)
            .limit(batch)
        ).all()
        db.session.commit()
        for entity_id in ids:
            reason, wait = get_governor().permit("esi")
            if reason != "ok" or wait > 0.005:
                return refreshed, max(wait, 0.01)
            try:
                data = getattr(get_client(), fetch)(entity_id)
            except NotFound:
                log.warning("%s %s does not exist at ESI", fetch, entity_id)
                data = None
            except EveError as exc:
                log.warning("%s %s not refreshed: %s", fetch, entity_id, exc)
                return refreshed, 30.0
            entity = db.session.get(model, entity_id)
            if data is None:
                entity.expires_at = now + timedelta(seconds=CACHE_SECONDS)
            elif model is Corporation:
                if data.get("alliance_id") and db.session.get(Alliance, data["alliance_id"]) is None:
                    db.session.add(Alliance(id=data["alliance_id"]))  # named later in this run
                    db.session.flush()
                apply_corporation(entity, data, now)
            else:
                apply_alliance(entity, data, now)
            db.session.commit()
            refreshed += 1
    return refreshed, 0.0
