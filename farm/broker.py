"""The embedded broker: kombu's filesystem transport, with atomic writes.

kombu's own transport creates a message file, then writes it: a worker polling the folder in
between reads an empty file and dies on the JSON error (seen with `make run`: the web process
published while the worker polled). Here a message is written under a name the consumer
ignores, then renamed into place, which is atomic on one filesystem. The exchange tables in
the control folder get the same treatment.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps, loads

ALIAS = "farmfs"


def write_atomically(path: str, data: bytes) -> None:
    partial = f"{path}.{uuid.uuid4().hex}.part"  # never ends in ".msg": consumers skip it
    with open(partial, "wb") as handle:
        handle.write(data)
    os.replace(partial, path)


class Channel(filesystem.Channel):
    # kombu's two base classes disagree on this parameter's name; the filesystem one wins.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        try:
            write_atomically(os.path.join(self.data_folder_out, name), str_to_bytes(dumps(payload)))
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add {name!r} to the queue folder") from exc

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        path = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        try:
            table = [filesystem.exchange_queue_t(*q) for q in loads(path.read_bytes())]
        except (FileNotFoundError, ValueError):
            table = []
        if entry not in table:
            table.insert(0, entry)
            write_atomically(str(path), str_to_bytes(dumps(table)))


class Transport(filesystem.Transport):
    Channel = Channel


def register() -> None:
    """Make `farmfs://` a broker URL kombu understands (in every process that loads Celery)."""
    TRANSPORT_ALIASES[ALIAS] = "farm.broker:Transport"
