"""``python -m bench <sweep|checkpath|chaos|dashboard|import|incident|roster|signin> [options] --json``: one
JSON object on stdout."""

import argparse
import json
import sys


def parse(argv):
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="command", required=True)

    sweep = sub.add_parser("sweep", help="validate N due keys against the sandbox")
    sweep.add_argument("--keys", type=int, default=1000)
    sweep.add_argument("--sso-limit", type=int, default=None, help="hidden token-endpoint limit per second")
    sweep.add_argument("--known-limit", action="store_true", help="tell Bastion the limit")
    sweep.add_argument("--latency-ms", type=int, default=0)
    sweep.add_argument("--workers", type=int, default=8, help="worker threads per consumer process")
    sweep.add_argument("--consumers", type=int, default=2, help="consumer processes (one per core)")
    sweep.add_argument("--fault-rate", type=float, default=0.0)
    sweep.add_argument("--safety", type=float, default=None, help="GOVERNOR_SAFETY for this run")
    sweep.add_argument("--timeout", type=float, default=900)
    sweep.add_argument(
        "--service-outage-s",
        type=float,
        default=None,
        help="add a webhook service for members whose receiver answers 503 for this many seconds",
    )
    sweep.add_argument("--cpu-hog", type=int, default=0, help="busy processes to keep running beside the run")
    sweep.add_argument("--json", action="store_true", help="print JSON (the only output format)")
    sweep.add_argument("--verbose", action="store_true", help="add a timeline and the consumer's log")
    sweep.add_argument(
        "--profile",
        help="write a py-spy profile of one consumer here: a flame graph for .svg, else collapsed stacks",
    )

    chaos = sub.add_parser("chaos", help="kill consumers and restart Redis during a sweep")
    chaos.add_argument("--keys", type=int, default=1000)
    chaos.add_argument("--kills", type=int, default=3)
    chaos.add_argument("--redis-restarts", type=int, default=0)
    chaos.add_argument("--moves", type=int, default=0, help="characters moved at the sandbox before the run")
    chaos.add_argument("--db-restarts", type=int, default=0, help="stop PostgreSQL (a throwaway cluster)")
    chaos.add_argument("--db-down-s", type=float, default=20.0, help="how long PostgreSQL stays down")
    chaos.add_argument(
        "--graceful-stops", type=int, default=0, help="SIGTERM, then SIGINT 1 s and SIGKILL 10 s later"
    )
    chaos.add_argument("--fault-rate", type=float, default=0.0)
    chaos.add_argument("--latency-ms", type=int, default=20)
    chaos.add_argument("--workers", type=int, default=8, help="worker threads per consumer process")
    chaos.add_argument("--consumers", type=int, default=2, help="consumer processes (one per core)")
    chaos.add_argument("--seed", type=int, default=None)
    chaos.add_argument("--timeout", type=float, default=1200)
    chaos.add_argument("--json", action="store_true")
    incident = sub.add_parser("incident", help="a misbehaving EVE during a sweep, and the incident guard")
    incident.add_argument("--keys", type=int, default=1000)
    incident.add_argument("--users", type=int, default=300, help="users the keys belong to (mains and alts)")
    incident.add_argument("--storm-s", type=float, default=60.0, help="seconds SSO answers invalid_grant")
    incident.add_argument(
        "--storm-delay-s", type=float, default=3.0, help="seconds into the sweep the storm starts"
    )
    incident.add_argument("--recheck-s", type=float, default=180.0, help="GUARD_RECHECK for this run")
    incident.add_argument("--grace-s", type=int, default=86400, help="ACCESS_GRACE for this run")
    incident.add_argument(
        "--real", action="store_true", help="every grant truly revoked; an admin presses Apply"
    )
    incident.add_argument(
        "--wrong-affiliation", action="store_true", help="ESI puts everyone in one corporation"
    )
    incident.add_argument("--sso-limit", type=int, default=30, help="token requests per second (known)")
    incident.add_argument("--latency-ms", type=int, default=20)
    incident.add_argument("--workers", type=int, default=8)
    incident.add_argument("--consumers", type=int, default=2)
    incident.add_argument("--fault-rate", type=float, default=0.0)
    incident.add_argument("--timeout", type=float, default=900)
    incident.add_argument("--json", action="store_true")
    dashboard = sub.add_parser("dashboard", help="admin pages' latency over HTTP with a big state seeded")
    dashboard.add_argument("--keys", type=int, default=10000)
    dashboard.add_argument("--dead", type=int, default=1000)
    dashboard.add_argument("--pending", type=int, default=5000)
    dashboard.add_argument("--requests", type=int, default=200, help="timed requests per page")
    dashboard.add_argument("--json", action="store_true")
    roster = sub.add_parser("roster", help="a corporation's in-game members read and shown to directors")
    roster.add_argument("--members", type=int, default=10000)
    roster.add_argument("--registered", type=float, default=0.7, help="share of members with a key")
    roster.add_argument("--requests", type=int, default=100, help="timed requests per page")
    checkpath = sub.add_parser("checkpath", help="key checks one after another, CPU per check")
    checkpath.add_argument("--keys", type=int, default=2000)
    checkpath.add_argument("--warmup", type=int, default=200, help="checks before the measuring starts")
    checkpath.add_argument("--profile", help="write a cProfile of the measured checks here")
    checkpath.add_argument(
        "--floor",
        action="store_true",
        help="only the outside calls and cryptography of each check (no Redis, SQL, lock or queue)",
    )
    checkpath.add_argument(
        "--recheck", action="store_true", help="check every key once, then measure checking them again"
    )
    checkpath.add_argument(
        "--beside-floor", action="store_true", help="measure the floor in the same run, and the ratio"
    )
    checkpath.add_argument("--json", action="store_true")
    signin = sub.add_parser("signin", help="a sign-in storm through OpenID Connect and Mumble")
    signin.add_argument("--members", type=int, default=200)
    signin.add_argument("--concurrency", type=int, default=8, help="members signing in at a time")
    signin.add_argument("--mumble-clients", type=int, default=50, help="Mumble clients logging in at once")
    signin.add_argument("--json", action="store_true")
    importer = sub.add_parser("import", help="flask import allianceauth on a big Alliance Auth database")
    importer.add_argument("--users", type=int, default=10_000)
    importer.add_argument("--characters", type=int, default=25_000)
    importer.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "import":
        if not 1 <= args.users <= args.characters <= 500_000:
            parser.error("--users must be at least 1 and at most --characters (at most 500000)")
        return args
    if args.command == "checkpath":
        if not 0 <= args.warmup < args.keys <= 100_000:
            parser.error("--keys must be 1 to 100000 and more than --warmup")
        if args.beside_floor and args.floor:
            parser.error("--beside-floor measures the floor already: leave out --floor")
        return args
    if args.command == "signin":
        if not 1 <= args.members <= 10_000 or not 1 <= args.concurrency <= 64:
            parser.error("--members must be 1 to 10000, --concurrency 1 to 64")
        if not 0 <= args.mumble_clients <= 200:
            parser.error("--mumble-clients must be 0 to 200")
        return args
    if args.command == "roster":
        if not 2 <= args.members <= 100_000 or args.requests < 1 or not 0 < args.registered <= 1:
            parser.error("--members must be 2 to 100000, --requests at least 1, --registered above 0 to 1")
        return args
    if args.command == "dashboard":
        for name in ("keys", "requests"):
            if getattr(args, name) < 1:
                parser.error(f"--{name} must be at least 1")
        for name in ("dead", "pending"):
            if getattr(args, name) < 0:
                parser.error(f"--{name} must not be negative")
        return args
    for name in ("keys", "workers", "consumers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if getattr(args, "sso_limit", None) is not None and args.sso_limit < 1:
        parser.error("--sso-limit must be at least 1")
    if getattr(args, "known_limit", False) and not args.sso_limit:
        parser.error("--known-limit needs --sso-limit")
    if not 0 <= getattr(args, "cpu_hog", 0) <= 8:
        parser.error("--cpu-hog must be from 0 to 8")
    if not 0 <= args.fault_rate < 1:
        parser.error("--fault-rate must be from 0 to below 1")
    return args


def main(argv=None):
    """Run one benchmark and print its result."""
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.command == "sweep":
        from bench.sweep import run
    elif args.command == "import":
        from bench.importer import run
    elif args.command == "incident":
        from bench.incident import run
    elif args.command == "dashboard":
        from bench.dashboard import run
    elif args.command == "roster":
        from bench.roster import run
    elif args.command == "signin":
        from bench.signin import run
    elif args.command == "checkpath":
        from bench.checkpath import run
    else:
        from bench.chaos import run
    result = run(args)
    print(json.dumps(result, indent=2))  # noqa: T201  (the benchmark's output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
