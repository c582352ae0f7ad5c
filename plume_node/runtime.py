"""`plume-node start`: assemble the node's parts and run them in one trio nursery.

Start-up order matters for safety: the data directory is opened and checked
against this genesis before anything else, so a node pointed at another
chain's data stops with a message instead of writing into it. Shutdown on
SIGINT/SIGTERM cancels the nursery; every committed height is already one
synced LevelDB batch, so stopping at any point loses nothing.
"""

from __future__ import annotations

import json
import logging
import resource
import signal
import sys
from datetime import datetime, timezone

import trio

from plume_node.config import Config
from plume_node.home import Home
from plume_node.errors import UserError

log = logging.getLogger("plume.node")


# Attributes every LogRecord has: anything else on a record came from `extra=` and is a field.
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with stable keys: ts (UTC, ISO 8601), level,
    module (the logger's name), msg, then any `extra=` fields, and exc (a
    traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        entry: dict = {"ts": ts.replace("+00:00", "Z"), "level": record.levelname.lower(),
                       "module": record.name, "msg": record.getMessage()}
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(level: str, stream=None, *, log_format: str = "text", log_file: str = "") -> None:
    """Log at `level` to `log_file` (appended) or else `stream` (stderr), as text or JSON lines."""
    if log_file:
        try:
            handler: logging.Handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot open the log file {log_file}: {exc.strerror or exc}") from None
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # hypercorn and py-evm are chatty at info/debug; their warnings still show.
    for noisy in ("hypercorn.access", "eth", "trie"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit; return the new soft limit.

    Every RPC and p2p connection holds a descriptor, and so do LevelDB's
    files: at a distribution's default soft limit (often 1024) a flood of
    idle connections could leave LevelDB unable to open its next file, and a
    failed write stops the node.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass  # keep what we have; the node still runs
    return soft


def run_node(home: Home, config: Config) -> None:
    """Run until a signal; an error a user can fix stops it as that one UserError."""
    from plume_node.node import Node

    setup_logging(config.log_level, log_format=config.log_format, log_file=config.log_file)
    # SIGHUP's default action ends the process: ignored from here on, so a reload sent while the
    # node opens (a large denylist, LevelDB) or after its receivers exit at shutdown is harmless;
    # the receivers (`_sighup_has_nothing_to_reload`, the compliance service's) replace this
    # while they run and restore it when they end.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    open_files = raise_open_file_limit()  # before LevelDB opens its files
    node = Node.open(home, config)
    log.debug("open file limit %d", open_files)
    try:
        trio.run(_main, node)
    except KeyboardInterrupt:
        pass
    except BaseExceptionGroup as group:
        # A user-fixable error (a port in use, a full disk...) raised inside a
        # nursery arrives wrapped in exception groups: show it as its one line.
        user_error = _first_user_error(group)
        if user_error is None:
            raise
        raise user_error from None
    finally:
        node.close()
    log.info("stopped cleanly at height %d", node.app.committed_height())


def _first_user_error(group: BaseExceptionGroup) -> UserError | None:
    for exc in group.exceptions:
        if isinstance(exc, UserError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_user_error(exc)
            if found is not None:
                return found
    return None


async def _main(node) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_signal, nursery.cancel_scope)
        if node.compliance is None:  # else the compliance service reloads on SIGHUP
            nursery.start_soon(_sighup_has_nothing_to_reload)
        await nursery.start(node.run)


async def _sighup_has_nothing_to_reload() -> None:
    """SIGHUP (a reload, e.g. systemd's ExecReload) must not stop a node that has nothing to reload."""
    with trio.open_signal_receiver(signal.SIGHUP) as signals:
        async for _ in signals:
            log.warning("SIGHUP: this node started without compliance.toml; nothing to reload "
                        "(restart it to apply a new one)")


async def _stop_on_signal(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("received %s, shutting down", signal.Signals(signum).name)
            scope.cancel()
            return


