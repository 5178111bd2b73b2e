"""``python -m sandbox --port N``: serve the sandbox with its demo universe."""

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from sandbox.app import create_sandbox_app
from sandbox.demo import build_demo, build_discord_demo
from sandbox.state import Universe
from sandbox.tokens import SigningKey

log = logging.getLogger("sandbox")


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1, so clients keep their connections open between calls."""

    protocol_version = "HTTP/1.1"


def parse_args(argv):
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--state", help="a JSON file to keep the universe in across restarts")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="a redirect URI of the demo application (repeatable)",
    )
    parser.add_argument(
        "--bastion-url", default="http://127.0.0.1:5000", help="where the demo forum finds Bastion"
    )
    parser.add_argument("--empty", action="store_true", help="start without the demo universe")
    parser.add_argument("--quiet", action="store_true", help="do not log every request")
    parser.add_argument(
        "--server",
        choices=("werkzeug", "gunicorn", "granian"),
        default="werkzeug",
        help="gunicorn or granian (one worker process, threads) cost less CPU per request than"
        " Werkzeug's server, granian least: for benchmarks; no --state",
    )
    parser.add_argument("--threads", type=int, default=32, help="gunicorn's or granian's threads")
    args = parser.parse_args(argv)
    if args.server != "werkzeug" and args.state:
        parser.error("--state needs the werkzeug server")
    return args


def serve_with_gunicorn(app, args):
    """Serve from one gunicorn process with threads: the universe lives in that one process."""
    from gunicorn.app.base import BaseApplication

    class Sandbox(BaseApplication):
        def load_config(self):
            for name, value in {
                "bind": f"{args.host}:{args.port}",
                "workers": 1,
                "threads": args.threads,
                "worker_class": "gthread",
                "keepalive": 75,
                "timeout": 0,
                "accesslog": None,
                "loglevel": "warning",
            }.items():
                self.cfg.set(name, value)

        def load(self):
            return app

    Sandbox().run()
    return 0


ARGS_VARIABLE = "SANDBOX_SERVE_ARGV"  # how the command line reaches granian's worker process


def serve_with_granian(argv, args):
    """Serve from one Granian worker (an HTTP server written in Rust) with threads. The worker is a
    process of its own that imports ``granian_app``, which builds the universe there from the
    same command line."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    os.environ[ARGS_VARIABLE] = json.dumps(argv)
    Granian(
        "sandbox.__main__:granian_app",
        address=args.host,
        port=args.port,
        interface=Interfaces.WSGI,
        factory=True,
        workers=1,
        blocking_threads=args.threads,
        backpressure=args.threads,  # as many calls at once as there are threads to answer them
        websockets=False,
        log_level=LogLevels.warning,
    ).serve()
    return 0


def granian_app():
    """The sandbox's app, built in granian's worker from the command line it was given."""
    return build_app(parse_args(json.loads(os.environ[ARGS_VARIABLE])))[0]


def build_app(args):
    """(the sandbox app, its universe, its signing key) as the command line asks."""
    world, key = load_or_build(args)
    app = create_sandbox_app(world, key, bastion_url=args.bastion_url, port=args.port)
    if not args.empty:
        build_discord_demo(
            app.extensions["sandbox"]["discord"], args.redirect_uri or ["http://127.0.0.1:5000/sso/callback"]
        )
    return app, world, key


def load_or_build(args):
    """The universe and signing key: from the state file when there is one, else new."""
    world = Universe()
    if args.state and Path(args.state).exists():
        data = json.loads(Path(args.state).read_text())
        world.load_dict(data["universe"])
        key = SigningKey.from_pem(data["key"])
        for uri in args.redirect_uri:
            for client in world.clients.values():
                if uri not in client.redirect_uris:
                    client.redirect_uris.append(uri)
        return world, key
    if not args.empty:
        build_demo(world, args.redirect_uri or ["http://127.0.0.1:5000/sso/callback"])
    return world, SigningKey()


def save(path, world, key):
    """Write the universe to the state file atomically."""
    data = {"universe": world.to_dict(), "key": key.to_pem()}
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
    os.chmod(path, 0o600)
    world.dirty = False


def main(argv=None):
    """Serve until SIGINT or SIGTERM, saving the state file when asked to keep one."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sandbox: %(message)s")
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.server == "granian":
        return serve_with_granian(argv, args)
    app, world, key = build_app(args)
    if args.server == "gunicorn":
        return serve_with_gunicorn(app, args)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=KeepAliveHandler)
    server.daemon_threads = True
    stop = threading.Event()

    def shutdown(signum, frame):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)

    if args.state:

        def keep_saving():
            while not stop.wait(2.0):
                if world.dirty:
                    save(args.state, world, key)

        threading.Thread(target=keep_saving, daemon=True).start()
    log.info(
        "EVE sandbox at http://%s:%s (SSO at /, ESI at /esi, control at /_sandbox)", args.host, args.port
    )
    server.serve_forever()
    if args.state:
        save(args.state, world, key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
