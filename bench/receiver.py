"""A webhook receiver for benchmarks: down (503) for a while, then up, noting when each grant arrived."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.servers import free_port


class OutageReceiver:
    """A webhook receiver that answers 503 until a moment, then 200; notes when each grant arrived."""

    def __init__(self):
        receiver = self
        self.down_until = 0.0
        self.delivered = {}  # grant id -> monotonic time of the first accepted event
        self.refused = 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (the name http.server calls)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.monotonic()
                with receiver._lock:
                    down = now < receiver.down_until
                    if down:
                        receiver.refused += 1
                    else:
                        try:
                            grant = json.loads(body).get("grant") or {}
                        except ValueError:
                            grant = {}
                        receiver.delivered.setdefault(grant.get("id"), now)
                self.send_response(503 if down else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        """Where events are POSTed."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def go_down_for(self, seconds):
        """Answer 503 from now on, for that many seconds."""
        with self._lock:
            self.down_until = time.monotonic() + seconds

    def stop(self):
        """Stop serving."""
        self.server.shutdown()
        self.thread.join(timeout=5)
