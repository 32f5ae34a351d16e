"""An upload streams its G-code from storage: the request carries every byte, with a
Content-Length, and the uploading process never holds the file (nor a body built from it).

The receiving end is a real HTTP server in a process of its own (upload_receiver.py) that
parses the multipart body with the standard library's parser; the contract tests send the
same upload to a real OctoPrint and to the emulator."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from printers.drivers.multipart import MultipartFile
from printers.drivers.octoprint import OctoPrintDriver

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.printers.upload_receiver"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/octoprint"
    finally:
        process.terminate()
        process.wait(timeout=10)


def big_gcode(path: Path, megabytes: int) -> Path:
    line = b"G1 X123.456 Y78.901 E0.04567 F1800\n"
    with path.open("wb") as out:
        for i in range(megabytes * 1024 * 1024 // len(line)):
            out.write(line if i % 1000 else b";LAYER_CHANGE %d\n" % i)
    return path


def test_the_body_says_its_length_and_carries_the_fields_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "part.gcode"
    path.write_bytes(b"G28\n" * 100_000)
    fields = {"print": "true"}
    with MultipartFile(fields=fields, file_field="file", path=path, file_name="a.gcode") as body:
        sent = b"".join(iter(lambda: body.read(8192), b""))
        assert len(sent) == len(body)
        assert body.content_type == f"multipart/form-data; boundary={body.boundary}"
    assert sent.count(b"G28\n") == 100_000
    assert sent.endswith(f"--{body.boundary}--\r\n".encode())


def test_an_upload_reaches_the_server_intact_and_is_never_held_in_memory(
    receiver_url: str, tmp_path: Path
) -> None:
    path = big_gcode(tmp_path / "big.gcode", 24)
    driver = OctoPrintDriver(device_id="p1", settings={"url": receiver_url, "api_key": "KEY"})
    tracemalloc.start()
    try:
        answer = driver._upload(path, "farm-run-1.gcode", select=True, print_=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    data = path.read_bytes()
    assert answer["file"] == {
        "field": "file",
        "name": "farm-run-1.gcode",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert answer["fields"] == {"select": "true", "print": "true"}
    assert answer["api_key"] == "KEY"
    assert answer["transfer_encoding"] == ""  # a Content-Length, not chunks
    # A few chunks of 256 kB at most; requests' own `files=` held the 24 MB file and the
    # body it built from it (48 MB and more).
    assert peak < 4 * 1024 * 1024, f"{peak / 1e6:.1f} MB traced while uploading"
