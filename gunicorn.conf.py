"""Lets a plain ``gunicorn`` in the repository root use annoserver's settings."""

from annoserver.gunicorn_config import *  # noqa: F403
