"""A stand-in upload endpoint in a process of its own: `python -m tests.printers.upload_receiver`.

Prints its port, then answers each POST with what it received, parsed by the standard
library's multipart parser: the file part's name, size and SHA-256, the other fields, and the
request's Content-Length and Transfer-Encoding. Being another process, it keeps its copies of
the body out of the uploading process's memory, which the tests measure.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import http.server
import json
import sys
from typing import Any


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body
        )
        answer: dict[str, Any] = {
            "done": True,
            "effectivePrint": True,
            "content_length": int(self.headers["Content-Length"]),
            "transfer_encoding": self.headers.get("Transfer-Encoding", ""),
            "api_key": self.headers.get("X-Api-Key", ""),
            "fields": {},
        }
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            if part.get_filename():
                answer["file"] = {
                    "field": name,
                    "name": part.get_filename(),
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            else:
                answer["fields"][name] = data.decode()
        reply = json.dumps(answer).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def main() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
