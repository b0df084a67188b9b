#!/usr/bin/env python3
"""Time from `emulator up` to every URL of the chat answering.

    python3 scripts/up_ready.py [--runs N] [--emulator target/release/emulator] [-- extra up args]

Each run starts `emulator up --template backend/template.yaml` on a free port with a fresh
state directory, reads the banner's URLs as they are printed, and polls until all of them
answer: the HTTP API (401 without a token: the authorizer is in place), the WebSocket API
(a handshake refused with 401 by the $connect function, so the function process runs), the
user pool's JWKS (200) and the mailbox (200). Functions are taken as already built (cargo's
release build is warm), so this measures provisioning and start-up, not compilation.
Prints each run and the median.
"""
import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(url, upgrade=False):
    u = urllib.parse.urlsplit(url.replace("ws://", "http://"))
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        headers = {}
        if upgrade:
            headers = {
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            }
        c.request("GET", u.path + ("?" + u.query if u.query else ""), headers=headers)
        return c.getresponse().status
    except OSError:
        return None


def run_once(emulator, extra):
    port = free_port()
    state = tempfile.mkdtemp(prefix="up-ready-")
    started = time.monotonic()
    proc = subprocess.Popen(
        [emulator, "up", "--template", os.path.join(ROOT, "backend/template.yaml"),
         "--port", str(port), "--state", state] + extra,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        while True:
            text = "".join(lines)
            http_api = re.search(r"HTTP API \S+: (\S+)", text)
            ws = re.search(r"WebSocket API \S+: (\S+)", text)
            jwks = re.search(r"JWKS: (\S+)", text)
            mailbox = re.search(r"mailbox: (\S+)", text)
            if all([http_api, ws, jwks, mailbox]):
                checks = [
                    status(http_api.group(1) + "/me") == 401,
                    status(ws.group(1), upgrade=True) == 401,
                    status(jwks.group(1)) == 200,
                    status(mailbox.group(1)) == 200,
                ]
                if all(checks):
                    return time.monotonic() - started
            if proc.poll() is not None:
                raise SystemExit("emulator up exited:\n" + text)
            if time.monotonic() - started > 120:
                raise SystemExit("not ready after 120 s:\n" + text)
            time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(state, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--emulator", default=os.path.join(ROOT, "target/release/emulator"))
    p.add_argument("extra", nargs="*")
    a = p.parse_args()
    times = []
    for i in range(a.runs):
        t = run_once(a.emulator, a.extra)
        times.append(t)
        print(f"run {i + 1}: {t * 1000:.0f} ms")
    print(f"median: {statistics.median(times) * 1000:.0f} ms over {a.runs} runs")


if __name__ == "__main__":
    main()
