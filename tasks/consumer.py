"""What ``huey_consumer tasks.consumer.huey`` loads: the Huey instance with every task registered."""

from app import create_app
from tasks import huey, set_app_factory
from tasks import ops  # noqa: F401  (registers the tasks)
from tasks import signals  # noqa: F401

set_app_factory(create_app)

__all__ = ["huey"]
