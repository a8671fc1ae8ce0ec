"""Standard Webhooks signing and verification: the pipeline's `hmac` code against the
`standardwebhooks` library, for 1 KB bodies.

Run: `.venv/bin/python -m bench.micro.signing_timeit`. Prints the best µs per call of interleaved
runs.
The delivery signer runs once per delivery attempt (about 150 µs of CPU in all), the verifier once
per Standard Webhooks request at the ingress.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from pipeline.http.standard_webhooks import generate_secret, sign, verify

BODY = b'{"k":"' + b"x" * 1000 + b'"}'
SECRET = generate_secret()
MSG_ID = "msg_2kqzq7p6d3v5x8y1"
NUMBER = 5_000
ROUNDS = 15


def main() -> None:
    now = int(time.time())
    moment = datetime.fromtimestamp(now, UTC)
    headers = {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(SECRET, MSG_ID, now, BODY),
    }
    rows: dict[str, Callable[[], object]] = {
        "sign, pipeline": lambda: sign(SECRET, MSG_ID, now, BODY),
        "sign, library Webhook(secret).sign": lambda: Webhook(SECRET).sign(
            MSG_ID, moment, BODY.decode()
        ),
        "verify, pipeline": lambda: verify([SECRET], headers, BODY, now=now),
        "verify, library Webhook(secret).verify": lambda: Webhook(SECRET).verify(
            BODY, headers, json_parse=False
        ),
    }
    best = dict.fromkeys(rows, float("inf"))
    for _ in range(ROUNDS):  # interleaved, so a busy moment of the machine hits every row alike
        for name, statement in rows.items():
            best[name] = min(best[name], timeit.timeit(statement, number=NUMBER) / NUMBER * 1e6)
    for name, micros in best.items():
        print(f"{name:40} {micros:6.2f} µs")  # noqa: T201 - a benchmark prints its figures


if __name__ == "__main__":
    main()
