"""ESI's own OpenAPI description, kept in the repository: the sandbox's ESI routes are built to it.

`esi-openapi.json` is CCP's published description, copied as it was published; `SOURCE.md` beside it
says where and when it was taken. `python -m sandbox.contract FILE` (or `make esi-spec FROM=FILE`)
replaces it with a newer copy and rewrites `SOURCE.md`.
"""

import json
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
ESI_SPEC = HERE / "esi-openapi.json"
SOURCE = HERE / "SOURCE.md"


@cache
def esi_spec():
    """ESI's OpenAPI description as a dict (read once per process)."""
    return json.loads(ESI_SPEC.read_text())


def check_spec(spec):
    """Why a parsed document is not an ESI OpenAPI description, or None when it is one."""
    if not isinstance(spec, dict):
        return "it is not a JSON object"
    if not str(spec.get("openapi", "")).startswith("3."):
        return "it has no 'openapi: 3.x' version"
    if not isinstance(spec.get("paths"), dict) or not spec["paths"]:
        return "it has no paths"
    if "/characters/affiliation" not in spec["paths"]:
        return "it does not describe ESI (no /characters/affiliation path)"
    return None
