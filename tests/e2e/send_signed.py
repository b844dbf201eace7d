#!/usr/bin/env python3
"""Posts a signed sample webhook and prints what came back, as one JSON object.

    send_signed.py URL --provider github|stripe --secret SECRET [--tamper] [--stale]
                   [--id ID]

TODO(issue 16): switch the e2e scripts to `hooktap send github.push --to URL` (and
`--tamper`, `--stale`) when that command lands; this helper is its stand-in, with the
same signing rules (shared/signatures.md: GitHub X-Hub-Signature-256 over the raw body;
Stripe t=,v1= over "t.body").

--tamper changes the body after signing (the signature no longer matches); --stale signs
a Stripe event with a timestamp 10 minutes old. Standard library only.
"""

import argparse
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
import uuid


def github(secret, delivery):
    body = json.dumps({
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "repository": {"id": 1296269, "full_name": "octocat/Hello-World"},
        "pusher": {"name": "octocat"},
        "head_commit": {"id": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
                        "message": "e2e " + delivery},
    }).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/e2e",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature,
    }
    return body, headers


def stripe(secret, delivery, stale):
    body = json.dumps({
        "id": "evt_" + delivery.replace("-", "")[:24],
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_e2e", "object": "payment_intent", "amount": 2000}},
    }).encode()
    t = int(time.time()) - (600 if stale else 0)
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "Stripe-Signature": f"t={t},v1={v1}",
    }
    return body, headers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--provider", choices=["github", "stripe"], required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--tamper", action="store_true")
    parser.add_argument("--stale", action="store_true")
    parser.add_argument("--id", default=None, help="delivery id (default: a new UUID)")
    args = parser.parse_args()
    delivery = args.id or str(uuid.uuid4())
    if args.provider == "github":
        body, headers = github(args.secret, delivery)
    else:
        body, headers = stripe(args.secret, delivery, args.stale)
    if args.tamper:
        body = body.replace(b'"octocat"', b'"mallory"').replace(b"2000", b"9999")
    request = urllib.request.Request(args.url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            status, answer, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        status, answer, got = err.code, err.read(), dict(err.headers)
    except (urllib.error.URLError, OSError) as err:
        print(json.dumps({"status": 0, "error": str(err), "delivery": delivery}))
        return 1
    print(json.dumps({
        "status": status,
        "delivery": delivery,
        "headers": {k.lower(): v for k, v in got.items()},
        "body": answer.decode("utf-8", "replace"),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
