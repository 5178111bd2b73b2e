"""A real Alliance Auth (``allianceauth`` from PyPI) in a virtual environment of its own, built once
and cached under the system temp folder, with a project made by its own ``allianceauth start``; for
the importer's tests and its benchmark.

mysqlclient (a C extension needing MySQL's headers) is left out: Alliance Auth runs here on SQLite,
on PostgreSQL with psycopg, or on MariaDB with PyMySQL in mysqlclient's place, as Django allows.
"""

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

AA_VERSION = "5.5.0"
# allianceauth 5.5.0's requirements, as its wheel declares them, less mysqlclient; plus psycopg, and
# PyMySQL standing in for mysqlclient on MariaDB.
AA_REQUIREMENTS = [
    "bcrypt<5",
    "beautifulsoup4",
    "celery>=5.6,<6",
    "celery-once>=3.0.1",
    "django>=5.2,<6",
    "django-bootstrap5>=23.3",
    "django-celery-beat>=2.8",
    "django-esi>=10",
    "django-redis>=5.4",
    "django-registration>=5.2,<6",
    "django-solo",
    "django-sortedm2m",
    "django-sri<1",
    "dnspython",
    "httpx2",
    "openfire-restapi",
    "packaging>=21",
    "passlib",
    "pydiscourse",
    "python-slugify>=1.2",
    "pyyaml",
    "redis>=5",
    "requests>=2.9.1",
    "requests-oauthlib",
    "semantic-version",
    "slixmpp<1.9",
    "telnetlib3",
    "ua-parser",
    "user-agents",
    "psycopg[binary]",
    "PyMySQL",
]
HERE = Path(__file__).resolve().parent
# A change to the requirements builds a new environment.
_SIGNATURE = hashlib.sha256(" ".join(AA_REQUIREMENTS).encode()).hexdigest()[:8]
CACHE = Path(tempfile.gettempdir()) / f"bastion-allianceauth-{AA_VERSION}-{_SIGNATURE}"


def run(args, **kwargs):
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout


def build():
    """The cached virtual environment and project; built under a file lock so parallel workers wait."""
    CACHE.mkdir(parents=True, exist_ok=True)
    ready = CACHE / "ready"
    with open(CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            venv = CACHE / "venv"
            run([sys.executable, "-m", "venv", "--clear", str(venv)])
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            run([*pip, "--no-deps", f"allianceauth=={AA_VERSION}"])
            run([*pip, *AA_REQUIREMENTS])
            project = CACHE / "project"
            if project.exists():
                subprocess.run(["rm", "-rf", str(project)], check=True)
            project.mkdir()
            run([str(venv / "bin" / "allianceauth"), "start", "myauth"], cwd=project)
            ready.write_text(AA_VERSION)
    settings = CACHE / "project" / "myauth" / "myauth" / "settings" / "bastion_test.py"
    settings.write_text((HERE / "aa_settings.py").read_text())
    return CACHE / "venv" / "bin" / "python", CACHE / "project" / "myauth"


def environment(project, redis_url, client_id, client_secret, sso_url, database=None):
    """The environment Alliance Auth's commands run in: its settings (aa_settings.py) read these."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "myauth.settings.bastion_test",
        "PYTHONPATH": str(project),
        "AA_REDIS_URL": f"{redis_url.rsplit('/', 1)[0]}/9",
        "AA_CLIENT_ID": client_id,
        "AA_CLIENT_SECRET": client_secret,
        "AA_SSO_URL": sso_url,
    }
    if database is not None:
        env["AA_DATABASE"] = database
    return env


class AllianceAuth:
    """One Alliance Auth database, migrated by Alliance Auth, and its management code."""

    def __init__(self, python, project, env, url):
        self.python, self.project, self.env, self.url = python, project, env, url

    def _call(self, *args):
        return run([str(self.python), *args], cwd=self.project, env=self.env)

    def migrate(self):
        self._call("manage.py", "migrate", "--no-input", "-v", "0")

    def seed(self, spec, folder):
        path = Path(folder) / "aa-spec.json"
        path.write_text(json.dumps(spec))
        return json.loads(self._call(str(HERE / "seed.py"), "seed", str(path)).strip().splitlines()[-1])

    def refresh(self, character_id):
        """Alliance Auth refreshes a character's token (django-esi's Token.refresh), rotating it."""
        return json.loads(
            self._call(str(HERE / "seed.py"), "refresh", str(character_id)).strip().splitlines()[-1]
        )
