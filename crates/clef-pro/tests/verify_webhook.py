"""Verifies one delivered webhook with the standardwebhooks package (an implementation of the
specification independent of ours). Reads JSON from stdin: secret, body, headers, and
shift_minutes (verify as if that much later). Prints "ok" or the refusal."""
import datetime as real_datetime
import json
import sys

from standardwebhooks import webhooks

req = json.load(sys.stdin)
shift = real_datetime.timedelta(minutes=req.get("shift_minutes", 0))


class Later(real_datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return real_datetime.datetime.now(tz) + shift


webhooks.datetime = Later
try:
    webhooks.Webhook(req["secret"]).verify(req["body"], req["headers"])
    print("ok")
except webhooks.WebhookVerificationError as e:
    print(f"refused: {e}")
