"""EVE entities: alliances, corporations and characters."""

from app.clock import utcnow
from app.extensions import db

TRACKING = ("member", "blue", "hostile")


class Alliance(db.Model):
    """An EVE alliance, refreshed from ESI; tracked as member, blue or hostile, or not at all."""

    __tablename__ = "alliances"

    id = db.Column(db.BigInteger, primary_key=True, autoincrement=False)
    name = db.Column(db.String(128), nullable=False, default="")
    ticker = db.Column(db.String(16), nullable=False, default="")
    executor_corporation_id = db.Column(db.BigInteger, nullable=True)
    tracked_as = db.Column(db.String(16), nullable=True)
    refreshed_at = db.Column(db.DateTime, nullable=True)
    expires_at = db.Column(db.DateTime, nullable=True)
    etag = db.Column(db.String(128), nullable=True)

    __table_args__ = (
        db.CheckConstraint(
            "tracked_as IS NULL OR tracked_as IN ('member', 'blue', 'hostile')", name="tracked_known"
        ),
    )


class Corporation(db.Model):
    """An EVE corporation, refreshed from ESI; tracked as member, blue or hostile, or not at all."""

    __tablename__ = "corporations"

    id = db.Column(db.BigInteger, primary_key=True, autoincrement=False)
    name = db.Column(db.String(128), nullable=False, default="")
    ticker = db.Column(db.String(16), nullable=False, default="")
    alliance_id = db.Column(
        db.BigInteger, db.ForeignKey("alliances.id", ondelete="SET NULL"), nullable=True, index=True
    )
    member_count = db.Column(db.Integer, nullable=True)
    ceo_id = db.Column(db.BigInteger, nullable=True)
    tracked_as = db.Column(db.String(16), nullable=True)
    refreshed_at = db.Column(db.DateTime, nullable=True)
    expires_at = db.Column(db.DateTime, nullable=True)
    etag = db.Column(db.String(128), nullable=True)

    __table_args__ = (
        db.CheckConstraint(
            "tracked_as IS NULL OR tracked_as IN ('member', 'blue', 'hostile')", name="tracked_known"
        ),
    )

    alliance = db.relationship("Alliance")


class Character(db.Model):
    """An EVE character, owned by one Bastion user, with its current affiliation."""

    __tablename__ = "characters"

    id = db.Column(db.BigInteger, primary_key=True, autoincrement=False)
    name = db.Column(db.String(128), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True)
    owner_hash = db.Column(db.String(128), nullable=True)
    corporation_id = db.Column(
        db.BigInteger, db.ForeignKey("corporations.id", ondelete="SET NULL"), nullable=True, index=True
    )
    alliance_id = db.Column(db.BigInteger, db.ForeignKey("alliances.id", ondelete="SET NULL"), nullable=True)
    is_director = db.Column(db.Boolean, nullable=False, default=False)
    affiliation_checked_at = db.Column(db.DateTime, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    user = db.relationship("User", foreign_keys=[user_id], backref="characters")
    corporation = db.relationship("Corporation")
    alliance = db.relationship("Alliance")

    @property
    def standing(self):
        """How the character's corporation and alliance count here: hostile (which outweighs the
        rest), member or blue; None when neither is tracked."""
        tracked = {
            self.corporation.tracked_as if self.corporation is not None else None,
            self.alliance.tracked_as if self.alliance is not None else None,
        }
        return next((s for s in ("hostile", "member", "blue") if s in tracked), None)

    @property
    def watched(self):
        """True for a character in a hostile or untracked corporation and alliance."""
        return self.standing in (None, "hostile")
