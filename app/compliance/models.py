"""Tracking tokens, the in-game member list of each corporation, and coverage over time."""

from app.clock import utcnow
from app.corps.models import Character
from app.extensions import db
from app.keys.models import Key


class TrackingToken(db.Model):
    """A director's key with the membership scope, used to read their corporation's members."""

    __tablename__ = "tracking_tokens"

    id = db.Column(db.Integer, primary_key=True)
    corporation_id = db.Column(
        db.BigInteger, db.ForeignKey("corporations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    key_id = db.Column(db.Integer, db.ForeignKey("keys.id", ondelete="CASCADE"), nullable=False, unique=True)
    added_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    added_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Granted esi-corporations.track_members.v1 (last logons, with the Director role in game).
    tracks_members = db.Column(db.Boolean, nullable=False, default=False)
    last_used_at = db.Column(db.DateTime, nullable=True)
    # What ESI said when the token was last refused (None once it works again).
    error = db.Column(db.String(255), nullable=True)
    error_at = db.Column(db.DateTime, nullable=True)

    key = db.relationship("Key")
    corporation = db.relationship("Corporation")
    added_by = db.relationship("User")


class Roster(db.Model):
    """The last reading of a corporation's in-game members, and why a newer one is missing."""

    __tablename__ = "rosters"

    corporation_id = db.Column(
        db.BigInteger, db.ForeignKey("corporations.id", ondelete="CASCADE"), primary_key=True
    )
    refreshed_at = db.Column(db.DateTime, nullable=True)  # the last reading that worked
    expires_at = db.Column(db.DateTime, nullable=True)  # ESI's Expires: not asked again before
    etag = db.Column(db.String(128), nullable=True)
    member_count = db.Column(db.Integer, nullable=False, default=0)
    logons_at = db.Column(db.DateTime, nullable=True)  # when last logons were last read
    logons_note = db.Column(db.String(255), nullable=True)  # why they were not
    error = db.Column(db.String(255), nullable=True)
    error_at = db.Column(db.DateTime, nullable=True)


class RosterMember(db.Model):
    """One character in a corporation in game, as the last reading had it."""

    __tablename__ = "roster_members"

    corporation_id = db.Column(
        db.BigInteger, db.ForeignKey("corporations.id", ondelete="CASCADE"), primary_key=True
    )
    character_id = db.Column(db.BigInteger, primary_key=True, autoincrement=False, index=True)
    name = db.Column(db.String(128), nullable=False, default="")
    logon_at = db.Column(db.DateTime, nullable=True)
    logoff_at = db.Column(db.DateTime, nullable=True)
    joined_at = db.Column(db.DateTime, nullable=True)
    first_seen_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (db.Index("ix_roster_members_corporation_id_name", "corporation_id", "name"),)


class CoverageSample(db.Model):
    """Registered members against in-game members of a corporation at one reading."""

    __tablename__ = "coverage_samples"

    id = db.Column(db.Integer, primary_key=True)
    corporation_id = db.Column(
        db.BigInteger, db.ForeignKey("corporations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    taken_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    in_game = db.Column(db.Integer, nullable=False)
    registered = db.Column(db.Integer, nullable=False)


def unregistered_in_game(user_id):
    """A select of the user's characters without a key that a corporation's in-game list holds:
    (character name, corporation id, when that list was last read), by name."""
    return (
        db.select(Character.name, RosterMember.corporation_id, Roster.refreshed_at)
        .join(RosterMember, RosterMember.character_id == Character.id)
        .join(Roster, Roster.corporation_id == RosterMember.corporation_id)
        .outerjoin(Key, Key.character_id == Character.id)
        .where(Character.user_id == user_id, Key.id.is_(None))
        .order_by(Character.name)
    )
