"""A control room's webhook receiver, for the alert delivery tests.

Verifies CityGate's signature on its own (HMAC-SHA256 over "<timestamp>.<body>"), answers 500 to the first
FAIL_FIRST requests so the gateway must retry, and appends one JSON line per request to LOG:
{"attempt": n, "status": code, "valid": bool, "seq": ..., "event": ...}.
Usage: webhook_receiver.py PORT SECRET FAIL_FIRST LOG
"""
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

port, secret, fail_first, log_path = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3]), sys.argv[4]
attempts = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global attempts
        attempts += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        timestamp = self.headers.get("X-CityGate-Timestamp", "")
        signature = self.headers.get("X-CityGate-Signature", "")
        expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(expected, signature) and abs(time.time() - int(timestamp or 0)) < 300
        status = 500 if attempts <= fail_first else (200 if valid else 401)
        doc = json.loads(body)
        with open(log_path, "a") as log:
            log.write(json.dumps({"attempt": attempts, "status": status, "valid": valid, "seq": doc.get("seq"),
                                  "event": doc.get("event"), "alert": doc.get("alert", {}).get("id")}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", port), Handler).serve_forever()
