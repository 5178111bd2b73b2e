"""Replace the kept copy of ESI's OpenAPI description: python -m sandbox.contract FILE [--source TEXT]."""

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from sandbox.contract import ESI_SPEC, HERE, SOURCE, check_spec

DEFAULT_SOURCE = "https://esi.evetech.net/meta/openapi.json"


def main(argv=None):
    """Check FILE is ESI's OpenAPI description, copy it in unchanged and record where it came from."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.contract", description=__doc__)
    parser.add_argument("file", help="a copy of ESI's OpenAPI description (JSON)")
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="where the copy was taken from")
    parser.add_argument(
        "--into", type=Path, default=HERE, help="the folder to write to (default: the kept copy's)"
    )
    args = parser.parse_args(argv)
    spec_path, source_path = args.into / ESI_SPEC.name, args.into / SOURCE.name
    try:
        raw = open(args.file, "rb").read()  # noqa: SIM115
    except OSError as exc:
        parser.exit(2, f"Cannot read {args.file}: {exc.strerror}.\n")
    try:
        spec = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        parser.exit(2, f"{args.file} is not JSON: {exc}.\n")
    problem = check_spec(spec)
    if problem:
        parser.exit(2, f"{args.file} is not ESI's OpenAPI description: {problem}.\n")
    spec_path.write_bytes(raw)
    info = spec.get("info", {})
    source_path.write_text(
        "# ESI's OpenAPI description\n\n"
        f"- File: `{spec_path.name}`, copied unchanged from {args.source}\n"
        f"- Taken: {datetime.now(UTC):%Y-%m-%d}\n"
        f"- Title: {info.get('title', '?')}; compatibility date {info.get('version', '?')}; "
        f"{len(spec['paths'])} paths\n"
        f"- SHA-256: `{hashlib.sha256(raw).hexdigest()}`\n\n"
        "Refresh it with `make esi-spec FROM=path/to/openapi.json`; the contract tests "
        "(`tests/sandbox/test_contract.py`) then say where the sandbox no longer agrees.\n"
    )
    print(f"{spec_path} now holds {len(spec['paths'])} paths ({info.get('version', '?')}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
