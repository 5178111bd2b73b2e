"""Moving in from another system: Alliance Auth's users, characters, keys, states, Discord links and
groups carried over by ``flask import allianceauth`` (dry run by default), so no member registers
again."""
