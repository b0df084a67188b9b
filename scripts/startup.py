#!/usr/bin/env python3
"""Cold start to healthy and idle RSS of the emulator, optionally beside moto.

    python3 scripts/startup.py [--runs N] [--moto PATH_TO_moto_server]

Each run starts a fresh process on a free loopback port (emulator: fresh state directory, so
migrations run) and polls its health URL every millisecond; "cold start" is process spawn to the
first 200. Idle RSS is read from /proc one second after healthy. Prints medians.
"""
import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port, path):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        c.request("GET", path)
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(cmd_for_port, path, runs):
    starts, rss = [], []
    for _ in range(runs):
        port = free_port()
        cmd, cleanup = cmd_for_port(port)
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not healthy(port, path):
            if p.poll() is not None:
                raise SystemExit(f"{cmd[0]} exited with {p.returncode}")
            time.sleep(0.001)
        starts.append((time.perf_counter() - t0) * 1000)
        time.sleep(1)
        rss.append(rss_mb(p.pid))
        p.terminate()
        p.wait()
        cleanup()
    return statistics.median(starts), statistics.median(rss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "emulator"))
    ap.add_argument("--moto", help="path to moto_server, to measure it side by side")
    a = ap.parse_args()

    def emulator(port):
        d = tempfile.mkdtemp(prefix="startup-")
        return [a.binary, "serve", "--port", str(port), "--state", d], lambda: shutil.rmtree(d, True)

    rows = [("emulator", *measure(emulator, "/_emulator/health", a.runs))]
    if a.moto:
        rows.append(("moto", *measure(lambda port: ([a.moto, "-H", "127.0.0.1", "-p", str(port)], lambda: None), "/moto-api/", max(3, a.runs // 2))))
    print("| target | cold start to healthy (ms, median) | idle RSS (MB, median) |")
    print("|---|---|---|")
    for name, start, rss in rows:
        print(f"| {name} | {start:.1f} | {rss:.1f} |")
    if len(rows) == 2:
        print(f"\nmoto / emulator: cold start {rows[1][1] / rows[0][1]:.1f}x, idle RSS {rows[1][2] / rows[0][2]:.1f}x")


if __name__ == "__main__":
    main()
