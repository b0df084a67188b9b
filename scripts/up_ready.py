#!/usr/bin/env python3
"""Time from `emulator up` to every URL of the chat answering.

    python3 scripts/up_ready.py [--runs N] [--emulator target/release/emulator] [-- extra up args]
    python3 scripts/up_ready.py --cargo [--target-dir DIR] [--runs N]

Each run starts `emulator up --template backend/template.yaml` on a free port with a fresh
state directory, reads the banner's URLs as they are printed, and polls until all of them
answer: the HTTP API (401 without a token: the authorizer is in place), the WebSocket API
(a handshake refused with 401 by the $connect function, so the function process runs), the
user pool's JWKS (200) and the mailbox (200). Functions are taken as already built (cargo's
release build is warm), so this measures provisioning and start-up, not compilation.
Prints each run and the median.

With --cargo the command is README's own, `cargo run --release -p emulator -- up --demo`, so
the time includes building the emulator and the functions; readiness then also needs the web
chat (`/_app/`, and its config.json naming the HTTP API). With --target-dir pointing at an
empty directory the first run is a cold build; later runs are warm.
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


def run_once(emulator, extra, cargo=False, target_dir=None):
    port = free_port()
    state = tempfile.mkdtemp(prefix="up-ready-")
    started = time.monotonic()
    args = ["up", "--template", os.path.join(ROOT, "backend/template.yaml"), "--port", str(port), "--state", state]
    env = dict(os.environ)
    if cargo:
        command = ["cargo", "run", "--quiet", "--release", "-p", "emulator", "--"] + args + ["--demo"] + extra
        if target_dir:
            env["CARGO_TARGET_DIR"] = target_dir
    else:
        command = [emulator] + args + extra
    limit = 3600 if cargo else 120
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
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
            app = re.search(r"app: +(\S+)", text)
            if all([http_api, ws, jwks, mailbox]) and (app or not cargo):
                checks = [
                    status(http_api.group(1) + "/me") == 401,
                    status(ws.group(1), upgrade=True) == 401,
                    status(jwks.group(1)) == 200,
                    status(mailbox.group(1)) == 200,
                ]
                if cargo:
                    checks += [status(app.group(1)) == 200, status(app.group(1) + "config.json") == 200]
                if all(checks):
                    return time.monotonic() - started
            if proc.poll() is not None:
                raise SystemExit("emulator up exited:\n" + text)
            if time.monotonic() - started > limit:
                raise SystemExit(f"not ready after {limit} s:\n" + text)
            time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(state, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--emulator", default=os.path.join(ROOT, "target/release/emulator"))
    p.add_argument("--cargo", action="store_true", help="run README's command, building as needed")
    p.add_argument("--target-dir", help="CARGO_TARGET_DIR for --cargo (an empty one makes the first run cold)")
    p.add_argument("extra", nargs="*")
    a = p.parse_args()
    times = []
    for i in range(a.runs):
        t = run_once(a.emulator, a.extra, a.cargo, a.target_dir)
        times.append(t)
        print(f"run {i + 1}: {t * 1000:.0f} ms")
    print(f"median: {statistics.median(times) * 1000:.0f} ms over {a.runs} runs")


if __name__ == "__main__":
    main()
