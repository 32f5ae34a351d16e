"""A multipart/form-data body read from its file as it is sent, never held whole in memory.

requests builds a `files=` body in memory (the whole G-code, then a copy of it with the
boundaries), so a worker uploading one 3 MB file to a hundred printers at once would hold
hundreds of megabytes. `MultipartFile` is a file-like object that requests sends as a stream:
it knows its length in advance (the parts' headers plus the file's size), so the request
carries a Content-Length (OctoPrint's Tornado and the emulator both want one; no chunked
encoding), and its `read` hands out the fields, then the file chunk by chunk, then the closing
boundary.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 256 * 1024  # what one read hands to the socket at most


def _quote(value: str) -> str:
    """A form field's name or file name inside the Content-Disposition quotes."""
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartFile:
    """The body `fields` + one file part, streamed from `path` (opened now, closed with us)."""

    def __init__(
        self,
        *,
        fields: dict[str, str],
        file_field: str,
        path: Path,
        file_name: str,
        content_type: str = "application/octet-stream",
    ) -> None:
        self.boundary = secrets.token_hex(16)
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'
            f"{value}\r\n".encode()
            for name, value in fields.items()
        )
        head += (
            f"--{self.boundary}\r\nContent-Disposition: form-data; "
            f'name="{_quote(file_field)}"; filename="{_quote(file_name)}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self._head = head
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._file: BinaryIO = path.open("rb")
        self._size = os.fstat(self._file.fileno()).st_size
        self._parts = self._chunks()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self._size + len(self._tail)

    def _chunks(self) -> Iterator[bytes]:
        yield self._head
        while chunk := self._file.read(CHUNK_BYTES):
            yield chunk
        yield self._tail

    def read(self, size: int = -1) -> bytes:
        """The next piece of the body (at most one chunk; b"" at the end). `size` is a hint:
        http.client asks for its block size and sends whatever it gets."""
        return next(self._parts, b"")

    def __iter__(self) -> Iterator[bytes]:
        return self._parts

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> MultipartFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
