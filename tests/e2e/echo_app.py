#!/usr/bin/env python3
"""A tiny app for the e2e scripts: answers every request 200 with what it received.

    echo_app.py PORT

The answer is JSON: method, path (with query), headers (lower-case names), body length
and SHA-256. One line per request on stderr: `METHOD PATH id=<X-E2E-Id> len=N`.
Standard library only; listens on 127.0.0.1.
"""

import hashlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self):
        data = self.body()
        out = json.dumps({
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "length": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }).encode()
        sys.stderr.write(f"{self.command} {self.path} id={self.headers.get('X-E2E-Id', '-')} len={len(data)}\n")
        sys.stderr.flush()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
