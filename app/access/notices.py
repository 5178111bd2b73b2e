"""Notices: a member is told at once when access is about to end, again shortly before the end,
and when it ended; a notice shows on every page until dismissed or until the cause is fixed.

Functions here change the session (the caller commits with the change they describe) and return
the notices whose Discord direct messages must follow; the caller queues those.
"""

from datetime import timedelta

from flask import current_app

from app.access.models import Notice
from app.clock import utcnow
from app.extensions import db
from app.jobs.backoff import retry_delay
from app.jobs.outcome import Outcome
from app.jobs.setup import get_governor
from app.services.connectors import ConnectorError, discord

# How long before the end the second notice goes: an hour, or a quarter of the grace if shorter.
REMINDER_LEAD_S = 3600


def _at(moment):
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _open(grant):
    """The grant's notice that is not resolved yet, or None."""
    return db.session.scalars(
        db.select(Notice)
        .where(Notice.grant_id == grant.id, Notice.resolved_at.is_(None))
        .order_by(Notice.id.desc())
        .limit(1)
    ).first()


def _with_fix(text, fix):
    return f"{text} {fix}" if fix else text


def ending_text(grant, fix):
    text = f"Your access to {grant.service.name} ends at {_at(grant.ends_at)}: {grant.ending_reason}"
    return _with_fix(text, fix)


def _show(grant, kind, message):
    """The grant's open notice (or a new one) says this, shown on every page again."""
    notice = _open(grant)
    if notice is None:
        notice = Notice(user_id=grant.user_id, grant_id=grant.id, kind=kind, message="")
        db.session.add(notice)
    notice.kind, notice.message, notice.dismissed_at = kind, message, None
    db.session.flush()
    return notice


def ending(grant, fix):
    """A grant entered its grace period: the member's notice (new, or the open one brought back)."""
    return _show(grant, "ending", ending_text(grant, fix))


def changed(grant, fix):
    """The cause changed during the grace period: the open notice says the new one."""
    notice = _open(grant)
    if notice is not None and notice.kind == "ending":
        notice.message = ending_text(grant, fix)


def ended(grant, reason, fix, now=None):
    """Access ended: the member's notice says so, shown again until dismissed."""
    now = now or utcnow()
    text = f"Your access to {grant.service.name} ended at {_at(now)}: {reason}"
    return _show(grant, "ended", _with_fix(text, fix))


def resolve(grant, now=None):
    """The cause was fixed (or access came back): the grant's open notices go away."""
    now = now or utcnow()
    for notice in db.session.scalars(
        db.select(Notice).where(Notice.grant_id == grant.id, Notice.resolved_at.is_(None))
    ):
        notice.resolved_at = now


def reminder_at(ends_at, grace_s):
    """When the second notice goes: shortly before the end."""
    return ends_at - timedelta(seconds=min(REMINDER_LEAD_S, grace_s / 4))


def decided(request):
    """A director decided a member's request: the member is told, on every page until dismissed."""
    verdict = "approved" if request.status == "approved" else "denied"
    text = f"Your request for {request.service.name} was {verdict} by {request.decided_by.display_name}"
    reason = (request.decision_reason or "").strip()
    text += f": {reason}" if reason else ""
    text += "" if text.endswith((".", "!", "?")) else "."
    notice = Notice(user_id=request.user_id, kind="decided", message=text)
    db.session.add(notice)
    return notice


def shown_to(user_id, limit=5):
    """The notices a member sees on every page, newest first."""
    return db.session.scalars(
        db.select(Notice)
        .where(Notice.user_id == user_id, Notice.resolved_at.is_(None), Notice.dismissed_at.is_(None))
        .order_by(Notice.id.desc())
        .limit(limit)
    ).all()


def dismiss(user_id, notice_id, now=None):
    """A member dismisses one of their notices; False when it is not theirs or already gone."""
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.user_id != user_id or notice.dismissed_at is not None:
        return False
    notice.dismissed_at = now or utcnow()
    return True


def still_ending(notice):
    """The notice's grant is still in its grace period (a reminder is due)."""
    grant = notice.grant
    return (
        notice.resolved_at is None
        and notice.kind == "ending"
        and grant is not None
        and grant.status == "active"
        and grant.ends_at is not None
    )


def dm_text(notice, stage):
    """The direct message for a notice (first notice, or the reminder shortly before the end)."""
    prefix = "Reminder from Bastion: " if stage == "reminder" else "From Bastion: "
    base = current_app.config.get("PUBLIC_URL")
    where = f"{base}/services" if base else "My services on Bastion"
    return f"{prefix}{notice.message} Your services and why: {where}."


def deliver(notice_id, stage, attempt=1):
    """Tell the member of a notice by Discord direct message (and, for a reminder, show the notice
    again); committed. Members who turned DMs off or have no Discord linked get the notice in the
    app only. Discord's calls go through its governor."""
    notice = db.session.get(Notice, notice_id)
    if notice is None:
        return Outcome("nothing", message="the notice is gone")
    if stage == "reminder":
        if not still_ending(notice):
            return Outcome("nothing", message="the cause was fixed or access ended")
        notice.dismissed_at = None  # shown on every page again
    elif notice.resolved_at is not None:
        db.session.commit()
        return Outcome("nothing", message="the cause was fixed")
    user, now = notice.user, utcnow()
    link = user.discord
    if not user.notify_by_dm:
        status = "not sent by DM: turned off"
    elif link is None:
        status = "not sent by DM: Discord is not linked"
    elif not current_app.config["DISCORD_BOT_TOKEN"]:
        status = "not sent by DM: no Discord bot is configured"
    else:
        reason, wait = get_governor().gate(discord.UPSTREAM)
        if reason != "ok":
            db.session.commit()
            return Outcome("wait", max(wait, 0.05), f"discord: {reason}")
        try:
            discord.direct_message(link.discord_user_id, dm_text(notice, stage))
        except ConnectorError as exc:
            if exc.transient and attempt < current_app.config["VALIDATE_MAX_ATTEMPTS"]:
                db.session.commit()
                config = current_app.config
                delay = exc.retry_after or retry_delay(attempt, config["RETRY_BASE"], config["RETRY_CAP"])
                return Outcome("retry", delay, str(exc))
            status = f"not sent by DM: {exc}"
        else:
            status = f"sent by DM ({stage}) at {now:%Y-%m-%d %H:%M:%S} UTC"
    notice.dm_status = status[:255]
    db.session.commit()
    return Outcome("done", message=status)
