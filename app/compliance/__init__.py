"""Compliance: who is in a corporation in game (read with a director's tracking token) against
who registered in Bastion."""
