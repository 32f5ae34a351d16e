"""The embedded broker never shows a consumer a half-written message."""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from pathlib import Path

from kombu import Connection

from farm.broker import write_atomically


def test_a_message_file_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "1_x.default.msg"
    payload = b"{" + b'"k": 1,' * 200_000 + b'"end": 2}'
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            with contextlib.suppress(FileNotFoundError):
                seen.append(len(target.read_bytes()))

    watcher = threading.Thread(target=watch)
    watcher.start()
    for _ in range(20):
        write_atomically(str(target), payload)
        os.remove(target)
    stop.set()
    watcher.join()
    assert set(seen) <= {len(payload)}
    assert not [p for p in tmp_path.iterdir()]  # no partial files left behind


def test_messages_go_through_the_farmfs_transport(tmp_path: Path) -> None:
    import farm.celery  # noqa: F401  (registers the farmfs alias)

    options = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path / "control"),
        "polling_interval": 0.05,
    }
    with Connection("farmfs://", transport_options=options) as connection:
        # A fresh name: kombu keeps declared exchanges per process, and other tests' Celery
        # publishing already declared the farm's queues against another folder.
        queue = connection.SimpleQueue(f"test-{uuid.uuid4().hex}")
        for n in range(5):
            queue.put({"n": n})
        received = []
        for _ in range(5):
            message = queue.get(timeout=20)
            received.append(message.payload["n"])
            message.ack()
        queue.close()
    assert sorted(received) == list(range(5))
