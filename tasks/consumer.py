"""What ``huey_consumer tasks.consumer.huey`` loads: the Huey instance with every task registered."""

from app import create_app
from tasks import (  # noqa: F401  (registers the tasks)
    access,
    corps,
    huey,
    keys,
    ops,
    periodic,
    services,
    set_app_factory,
    signals,
)

set_app_factory(create_app)

__all__ = ["huey"]
