#!/usr/bin/env python3
"""The dashboard under load: `berth up --ui` of 100 services, ten of which write
10,000 log lines a second between them. Measures, with a real headless Chromium
driven over WebDriver (chromedriver, spoken to directly over HTTP):

- time to first contentful paint of the main page, as the browser reports it;
- the CPU berth uses with no browser, with a browser on the main page, and with
  a browser on the logs page of every service, and the difference: what the
  dashboard adds.

Run after `cargo build --release`, with chromium and chromium-driver installed:
    python3 bench/dashboard.py [--rounds 5] [--seconds 20]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BERTH = os.path.join(ROOT, "target", "release", "berth")
TICKS = os.sysconf("SC_CLK_TCK")
SERVICES = 100
WRITERS = 10
# Each writer prints a batch of 100 lines ten times a second: 1,000 lines/s.
WRITER = "while true; do seq 1 100 | sed 's/^/log line of a busy service, number /'; sleep 0.1; done"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ecosystem():
    lines = ["name: busy", "services:"]
    for i in range(SERVICES):
        run = f'[sh, -c, "{WRITER}"]' if i < WRITERS else '[sleep, "100000"]'
        lines.append(f"  s{i:03}:")
        lines.append(f"    local: {{ run: {run} }}")
    return "\n".join(lines) + "\n"


def lines_in(folder):
    """Lines in the log files (each stays under the 10 MiB at which it rotates)."""
    count = 0
    for name in os.listdir(folder):
        if name.endswith(".log"):
            with open(os.path.join(folder, name), "rb") as f:
                count += f.read().count(b"\n")
    return count


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_share(pid, seconds):
    """Percent of one core `pid` used over `seconds`."""
    start, began = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - start) / (time.monotonic() - began) * 100


class WebDriver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        capabilities = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1300,900"]}}}}
        self.session = self.call("POST", "/session", capabilities)["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)["value"]

    def goto(self, url):
        self.call("POST", f"/session/{self.session}/url", {"url": url})

    def run(self, script):
        return self.call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": []})

    def quit(self):
        self.call("DELETE", f"/session/{self.session}")


def first_paint(driver, url):
    driver.goto("about:blank")
    driver.goto(url)
    for _ in range(100):
        paint = driver.run(
            "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null")
        if paint is not None:
            return paint
        time.sleep(0.05)
    raise SystemExit("the page never painted")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    for tool in ("chromium", "chromedriver"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install chromium chromium-driver")
    if not os.path.exists(BERTH):
        raise SystemExit("build berth first: cargo build --release")
    work = tempfile.mkdtemp(prefix="berth-bench-dashboard-")
    with open(os.path.join(work, "berth.yaml"), "w") as f:
        f.write(ecosystem())
    ui, driver_port = free_port(), free_port()
    berth = subprocess.Popen([BERTH, "up", "--quiet", "--ui", "--ui-port", str(ui)], cwd=work,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, "NO_COLOR": "1"})
    chromedriver = subprocess.Popen(["chromedriver", f"--port={driver_port}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for line in berth.stdout:
            if "services up" in line:
                break
        time.sleep(3)
        logs = os.path.join(work, ".berth", "logs")
        written, began = lines_in(logs), time.monotonic()
        quiet = cpu_share(berth.pid, args.seconds)
        rate = (lines_in(logs) - written) / (time.monotonic() - began)
        for _ in range(100):
            try:
                driver = WebDriver(driver_port)
                break
            except OSError:
                time.sleep(0.1)
        url = f"http://127.0.0.1:{ui}/"
        paints = [first_paint(driver, url) for _ in range(args.rounds)]
        driver.goto(url)
        time.sleep(2)
        watched = cpu_share(berth.pid, args.seconds)
        driver.goto(f"http://127.0.0.1:{ui}/logs")
        time.sleep(2)
        shown = driver.run("return document.querySelectorAll('#log div').length")
        logs_watched = cpu_share(berth.pid, args.seconds)
        driver.quit()
    finally:
        chromedriver.terminate()
        berth.send_signal(signal.SIGINT)
        berth.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{SERVICES} services, {WRITERS} of them writing {rate:,.0f} lines/s in all")
    print(f"first contentful paint of the main page: median {statistics.median(paints):.0f} ms "
          f"(rounds: {', '.join(f'{p:.0f}' for p in paints)}; goal: under 200 ms)")
    print(f"berth's CPU, % of one core, over {args.seconds:.0f} s each:")
    print(f"  no browser                    {quiet:6.2f}")
    print(f"  a browser on the main page    {watched:6.2f}  (+{watched - quiet:.2f}; goal: under +2)")
    print(f"  a browser on every log        {logs_watched:6.2f}  (+{logs_watched - quiet:.2f}; {shown} lines in the page)")


if __name__ == "__main__":
    sys.exit(main())
