"""Refuse an upload past the size limit while it streams in, not after it filled the disk."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from farm.services.submission import upload_limit_bytes


class SizeLimitedUploadHandler(FileUploadHandler):
    """Stops reading an upload once it passes FARM_MAX_UPLOAD_MB and marks the request.

    The form then says the file is too large; the partial data is discarded.
    """

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: Any = None
    ) -> None:
        self.limit = upload_limit_bytes()
        self.received = 0
        # The whole body (file + form fields) can be slightly over the file's size; allow 1 MB.
        self.too_large = bool(content_length and content_length > self.limit + 1024 * 1024)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.too_large or self.received > self.limit:
            setattr(self.request, "upload_too_large", True)  # noqa: B010 (read by the form)
            # Read the rest and throw it away (nothing is written to disk), so the browser
            # gets the form back with the message instead of a reset connection.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
