"""A Flask webhook receiver that verifies GitHub and Stripe signatures.

Run it behind hooktap:

    python3 -m venv .venv && .venv/bin/pip install -r examples/requirements.txt
    GITHUB_WEBHOOK_SECRET=... STRIPE_WEBHOOK_SECRET=whsec_... \
        .venv/bin/python examples/flask_receiver.py 5000
    hooktap listen 5000 --verify github=... --verify stripe=whsec_...

Routes (POST):
    /webhooks/github   needs X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>
    /webhooks/stripe   needs Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">
    any other path     checked by whichever of the two headers it carries
GET /health answers 200.

Answers: 200 with a small JSON body when the signature is valid; 400 when the request
is not in the provider's form (header missing or malformed, body not JSON); 401 when the
signature does not match or Stripe's timestamp is older than the tolerance (300 s);
500 when the provider's secret is not set. Every answer names its reason.

Environment:
    GITHUB_WEBHOOK_SECRET   the GitHub webhook secret (UTF-8, as GitHub has it)
    STRIPE_WEBHOOK_SECRET   the Stripe endpoint signing secret, whsec_... used as is
    STRIPE_TOLERANCE        seconds, default 300
    PORT                    default 5000 (the first argument wins); HOST default 127.0.0.1
    FAIL_WITH               answer every webhook with this status (e.g. 500) instead
    FAIL_FILE               while this file exists, answer every webhook with the status
                            written in it (500 if it is empty): make the app fail and fix
                            it without restarting it

Only the standard library and Flask; the checks follow what GitHub's docs and
stripe-python do: the raw body bytes, hmac.compare_digest, any v1 signature may match
(secret rotation), the signature checked before the timestamp, past-only tolerance.
"""

import hashlib
import hmac
import json
import logging
import os
import sys
import time

from flask import Flask, jsonify, request

app = Flask(__name__)
log = logging.getLogger("receiver")


class Rejected(Exception):
    """A webhook that fails its check: the status to answer and why."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def secret(name):
    value = os.environ.get(name, "")
    if not value:
        raise Rejected(500, f"{name} is not set: the receiver cannot check this provider")
    return value.encode("utf-8")


def verify_github(body, headers):
    """GitHub: X-Hub-Signature-256 is sha256=<lowercase hex HMAC-SHA256(secret, body)>."""
    key = secret("GITHUB_WEBHOOK_SECRET")
    received = headers.get("X-Hub-Signature-256")
    if received is None:
        raise Rejected(400, "missing X-Hub-Signature-256 header")
    if not received.startswith("sha256="):
        raise Rejected(400, "X-Hub-Signature-256 does not start with sha256=")
    expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    # Compared as strings, like octokit: upper-case hex does not match.
    if not hmac.compare_digest(expected.encode(), received.encode()):
        raise Rejected(401, "X-Hub-Signature-256 does not match the body: wrong secret or body changed")
    return {"event": headers.get("X-GitHub-Event"), "delivery": headers.get("X-GitHub-Delivery")}


def verify_stripe(body, headers):
    """Stripe: Stripe-Signature is t=<unix>,v1=<hex HMAC-SHA256(secret, "t." + body)>[,v1=…]."""
    key = secret("STRIPE_WEBHOOK_SECRET")
    tolerance = int(os.environ.get("STRIPE_TOLERANCE", "300"))
    header = headers.get("Stripe-Signature")
    if header is None:
        raise Rejected(400, "missing Stripe-Signature header")
    timestamp, signatures = None, []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1":
            signatures.append(value)
        # v0 and unknown schemes are skipped, as stripe-python does.
    try:
        timestamp = int(timestamp)
    except (TypeError, ValueError):
        raise Rejected(400, "Stripe-Signature has no valid t= timestamp") from None
    if not signatures:
        raise Rejected(400, "Stripe-Signature has no v1= signature")
    signed = str(timestamp).encode() + b"." + body
    expected = hmac.new(key, signed, hashlib.sha256).hexdigest().encode()
    if not any(hmac.compare_digest(expected, s.encode()) for s in signatures):
        raise Rejected(401, "no v1 signature in Stripe-Signature matches the body: wrong secret or body changed")
    # Past only: a timestamp in the future passes, as in stripe-python.
    age = int(time.time()) - timestamp
    if age > tolerance:
        raise Rejected(401, f"Stripe-Signature timestamp is {age}s old (tolerance {tolerance}s): a replayed or stale event")
    try:
        event = json.loads(body)
    except ValueError:
        raise Rejected(400, "the body is not JSON") from None
    return {"event": event.get("type") if isinstance(event, dict) else None,
            "delivery": event.get("id") if isinstance(event, dict) else None}


PROVIDERS = {"github": verify_github, "stripe": verify_stripe}


def forced_failure():
    """The status FAIL_WITH or FAIL_FILE asks for, or None."""
    if os.environ.get("FAIL_WITH"):
        return int(os.environ["FAIL_WITH"])
    path = os.environ.get("FAIL_FILE")
    if path and os.path.exists(path):
        with open(path) as f:
            text = f.read().strip()
        return int(text) if text else 500
    return None


def receive(provider):
    # The raw bytes, exactly as received: never re-serialised JSON.
    body = request.get_data(cache=True, as_text=False, parse_form_data=False)
    status = forced_failure()
    if status is not None:
        log.info("%s %s -> %d (made to fail)", request.method, request.path, status)
        return jsonify(ok=False, error=f"the receiver is made to fail (FAIL_WITH/FAIL_FILE): {status}"), status
    if provider is None:
        if "X-Hub-Signature-256" in request.headers:
            provider = "github"
        elif "Stripe-Signature" in request.headers:
            provider = "stripe"
        else:
            log.info("%s %s -> 400 (no signature header)", request.method, request.path)
            return jsonify(ok=False, error="no X-Hub-Signature-256 or Stripe-Signature header"), 400
    try:
        info = PROVIDERS[provider](body, request.headers)
    except Rejected as rejected:
        log.info("%s %s -> %d %s: %s", request.method, request.path, rejected.status, provider, rejected.reason)
        return jsonify(ok=False, provider=provider, error=rejected.reason), rejected.status
    log.info("%s %s -> 200 %s %s %s", request.method, request.path, provider, info["event"], info["delivery"])
    return jsonify(ok=True, provider=provider, **info), 200


@app.post("/webhooks/github")
def github():
    return receive("github")


@app.post("/webhooks/stripe")
def stripe():
    return receive("stripe")


@app.post("/")
@app.post("/<path:anything>")
def any_path(anything=""):
    return receive(None)


@app.get("/health")
def health():
    return jsonify(ok=True)


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s receiver: %(message)s")
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "5000"))
    host = os.environ.get("HOST", "127.0.0.1")
    for name in ("GITHUB_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET"):
        if not os.environ.get(name):
            log.warning("%s is not set: that provider's webhooks will be answered 500", name)
    # Flask's development server is fine behind hooktap on a laptop; use gunicorn or
    # similar in production.
    app.run(host=host, port=port, threaded=True)


if __name__ == "__main__":
    main()
