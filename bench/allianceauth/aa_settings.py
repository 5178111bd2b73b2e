"""Alliance Auth's settings for the importer's tests: the project's own local.py, pointed at the
test's database, Redis and EVE application by environment variables."""

import os

from .local import *  # noqa: F403  (the project Alliance Auth generated)

if os.environ["AA_DATABASE"].startswith(("postgresql:", "mysql:")):
    from urllib.parse import urlsplit

    _parts = urlsplit(os.environ["AA_DATABASE"])
    _mysql = _parts.scheme == "mysql"
    if _mysql:  # PyMySQL stands in for mysqlclient (a C extension), as Django allows
        import pymysql

        pymysql.version_info = (2, 2, 7, "final", 0)
        pymysql.install_as_MySQLdb()
    DATABASES["default"] = {  # noqa: F405
        "ENGINE": "django.db.backends.mysql" if _mysql else "django.db.backends.postgresql",
        "NAME": _parts.path.lstrip("/"),
        "USER": _parts.username,
        "PASSWORD": _parts.password or "",
        "HOST": _parts.hostname,
        "PORT": str(_parts.port or (3306 if _mysql else 5432)),
        "OPTIONS": {"charset": "utf8mb4"}
        if _mysql
        else {"options": f"-c search_path={os.environ['AA_SCHEMA']}"},
    }
else:
    DATABASES["default"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["AA_DATABASE"]}  # noqa: F405
INSTALLED_APPS += ["allianceauth.services.modules.discord"]  # noqa: F405
CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": os.environ["AA_REDIS_URL"]}}
BROKER_URL = os.environ["AA_REDIS_URL"]
CELERY_ALWAYS_EAGER = True
ESI_SSO_CLIENT_ID = os.environ["AA_CLIENT_ID"]
ESI_SSO_CLIENT_SECRET = os.environ["AA_CLIENT_SECRET"]
ESI_SSO_BASE_URL = os.environ["AA_SSO_URL"] + "/v2/oauth"
ESI_USER_CONTACT_EMAIL = "admin@example.org"
DISCORD_BOT_TOKEN = "unused"
DISCORD_GUILD_ID = "1"
DISCORD_APP_ID = "1"
DISCORD_APP_SECRET = "unused"
DISCORD_CALLBACK_URL = "https://aa.example.org/discord/callback/"
DISCORD_SYNC_NAMES = False
SILENCED_SYSTEM_CHECKS = ["allianceauth.checks.A002"]
LOGGING = {"version": 1, "disable_existing_loggers": True}
