"""simbox.watch: continuous scanning of a drop folder (``simbox watch``, docs/watch.md)."""
from simbox.watch.alerts import ALERT_FIELDS, command_hook, url_hook  # noqa: F401
from simbox.watch.watcher import Drop, Watcher, parse_duration, status  # noqa: F401

__all__ = ["Watcher", "Drop", "status", "parse_duration", "command_hook", "url_hook",
           "ALERT_FIELDS"]
