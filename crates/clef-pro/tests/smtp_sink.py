#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd).

Stores each accepted message as <dir>/<unique>.eml, prefixed with an X-Rcpt-To header that
records the envelope recipients. How it answers DATA is read from the file <dir>/mode at each
message: "accept" (the default), "tempfail" (451), "reject" (550), "slow <seconds>" (before
answering DATA: the message is stored even if the client has gone), or "slow-rcpt <seconds>"
(before accepting the recipient: a client that dies meanwhile has sent nothing). Each
recipient command leaves a <unique>.rcpt marker, so a test can see a conversation under way.
Prints "ready <port>" once it listens.
"""
import argparse
import asyncio
import itertools
import os
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.counter = itertools.count()

    def mode(self):
        try:
            with open(os.path.join(self.folder, "mode")) as f:
                return f.read().strip() or "accept"
        except FileNotFoundError:
            return "accept"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        marker = os.path.join(self.folder, f"{time.time_ns()}-{next(self.counter)}.rcpt")
        open(marker, "w").close()
        mode = self.mode()
        if mode.startswith("slow-rcpt"):
            await asyncio.sleep(float(mode.split()[1]))
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mode = self.mode()
        if mode == "tempfail":
            return "451 4.3.0 Mailbox busy, try again later"
        if mode == "reject":
            return "550 5.1.1 Mailbox unavailable"
        if mode.startswith("slow "):
            await asyncio.sleep(float(mode.split()[1]))
        name = f"{time.time_ns()}-{os.getpid()}-{next(self.counter)}.eml"
        tmp = os.path.join(self.folder, name + ".part")
        with open(tmp, "wb") as f:
            f.write(("X-Rcpt-To: " + ",".join(envelope.rcpt_tos) + "\r\n").encode())
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.folder, name))
        return "250 2.0.0 Stored"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    controller = Controller(Sink(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    print(f"ready {args.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
