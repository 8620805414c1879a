#!/usr/bin/env python3
"""What `berth deploy` costs and how fast it decides, on this machine.

1. The listener: wrk against one `berth workload` instance directly, through the
   service's berth listener, and through nginx as a reverse proxy to the same
   instance, side by side: requests per second and p50/p99 latency, and what each
   proxy adds over the direct connection.
2. Rollback time: a canary whose new version fails half its requests, under a
   steady client; the time from the canary receiving traffic (its `weight` step in
   the history) to the old set restored, against the analysis interval.
3. Failed requests during rolling and blue-green deployments of 10 services, each
   under a client of its own.

Usage: python3 bench/deploy.py [--berth PATH] [--rounds 3] [--seconds 5]
Needs: wrk and nginx (apt-get install wrk nginx-light), after cargo build --release.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from startup import free_ports  # noqa: E402  (the same ports, picked the same way)


def get(port, path="/work"):
    """The whole answer: None when no connection could be made, empty when one
    was made and closed without an answer."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return None
    data = b""
    try:
        with s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        pass
    return data.decode(errors="replace")


class Project:
    def __init__(self, berth, yaml):
        self.berth = berth
        self.dir = tempfile.mkdtemp(prefix="berth-bench-deploy-")
        self.write(yaml)
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(berth) + ":" + env.get("PATH", "")
        env["NO_COLOR"] = "1"
        self.env = env

    def write(self, yaml):
        with open(os.path.join(self.dir, "berth.yaml"), "w") as f:
            f.write(yaml)

    def run(self, *args, check=True):
        done = subprocess.run([self.berth, *args], cwd=self.dir, env=self.env,
                              capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"berth {' '.join(args)}: {done.stdout}{done.stderr}")
        return done

    def json(self, *args):
        return json.loads(self.run(*args, "-o", "json").stdout)

    def close(self):
        self.run("down", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def workload(name, port, version, extra="", rollout="{ strategy: rolling }", replicas=1):
    return (f"  {name}:\n    local: {{ run: [berth, workload, --release, \"{version}\"{extra}] }}\n"
            f"    ports: {{ http: {port} }}\n    replicas: {replicas}\n"
            f"    health: {{ readiness: {{ http: /ready, period: 100ms }} }}\n"
            f"    rollout: {rollout}\n")


def wrk(port, seconds):
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency",
                          f"http://127.0.0.1:{port}/work"], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile(p):
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": percentile(50), "p99_ms": percentile(99),
            "non_2xx": int(errors.group(1)) if errors else 0}


def listener_against_nginx(berth, seconds, rounds):
    port, nginx_port = free_ports(2)
    project = Project(berth, f"name: proxy\nservices:\n{workload('api', port, '1.0.0')}")
    nginx_dir = tempfile.mkdtemp(prefix="berth-bench-nginx-")
    try:
        project.run("up", "-d")
        instance = project.json("status")["instances"][0]["port"]
        conf = os.path.join(nginx_dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
daemon off;
pid {nginx_dir}/nginx.pid;
error_log {nginx_dir}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  upstream api {{ server 127.0.0.1:{instance}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{nginx_port};
    location / {{ proxy_pass http://api; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
""")
        nginx = subprocess.Popen(["nginx", "-c", conf, "-p", nginx_dir],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        try:
            results = {"direct": [], "berth": [], "nginx": []}
            for _ in range(rounds):
                for name, target in [("direct", instance), ("berth", port), ("nginx", nginx_port)]:
                    results[name].append(wrk(target, seconds))
        finally:
            nginx.terminate()
            nginx.wait()
    finally:
        project.close()
        shutil.rmtree(nginx_dir, ignore_errors=True)
    print("\n1. The listener against nginx (wrk -t2 -c32, one `berth workload` instance behind both)")
    print(f"   {'round':<6} {'path':<7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'+p50':>7} {'+p99':>7}")
    for i in range(rounds):
        direct = results["direct"][i]
        for name in ["direct", "berth", "nginx"]:
            r = results[name][i]
            added = "" if name == "direct" else f"{r['p50_ms'] - direct['p50_ms']:7.2f} {r['p99_ms'] - direct['p99_ms']:7.2f}"
            print(f"   {i + 1:<6} {name:<7} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {added}")
        ratio = results["berth"][i]["rps"] / results["nginx"][i]["rps"]
        print(f"   {'':<6} berth/nginx throughput {ratio:.2f}; non-2xx: berth {results['berth'][i]['non_2xx']}, nginx {results['nginx'][i]['non_2xx']}")


class Hammer:
    """A client on one port, a new connection per request. A request whose
    connection the client itself could not open (its ephemeral ports run out
    after some 28,000 connections in a minute) is counted apart: no server saw it."""

    def __init__(self, port):
        self.port, self.ok, self.failed, self.unsent, self.stop = port, 0, 0, 0, False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop:
            answer = get(self.port)
            if answer is None:
                self.unsent += 1
            elif " 200 " in answer.split("\r\n", 1)[0]:
                self.ok += 1
            else:
                self.failed += 1
            time.sleep(0.005)

    def finish(self):
        self.stop = True
        self.thread.join()
        return self.ok, self.failed


def entry_time(timeline, text):
    return next(e["at"] for e in timeline if text in e["what"])


def rollback_time(berth, interval):
    port = free_ports(1)[0]
    canary = f"{{ strategy: canary, steps: [20, 100], analysis: {{ error_rate: 1%, interval: {interval}s, min_requests: 5 }} }}"
    project = Project(berth, f"name: bad\nservices:\n{workload('web', port, '1.0.0', rollout=canary, replicas=2)}")
    try:
        project.run("up", "-d")
        hammer = Hammer(port)
        failing = ', --failure-rate, "0.5"'
        project.write("name: bad\nservices:\n" + workload("web", port, "2.0.0", failing, canary, 2))
        project.run("deploy", check=False)
        ok, failed = hammer.finish()
        timeline = project.json("history", "show", "2")["timeline"]
        took = (entry_time(timeline, "previous revision restored") - entry_time(timeline, "weight 20% new")) / 1000
        return took, ok, failed
    finally:
        project.close()


def failures_during(berth, strategy, services=10):
    ports = free_ports(services)
    rollout = {"rolling": "{ strategy: rolling, max_surge: 1 }",
               "blue_green": "{ strategy: blue_green, keep_previous: 1s }"}[strategy]

    def yaml(version):
        return "name: ten\nservices:\n" + "".join(
            workload(f"s{i}", p, version, rollout=rollout, replicas=2) for i, p in enumerate(ports))
    project = Project(berth, yaml("1.0.0"))
    try:
        project.run("up", "-d")
        hammers = [Hammer(p) for p in ports]
        time.sleep(0.3)
        project.write(yaml("2.0.0"))
        started = time.monotonic()
        project.run("deploy")
        took = time.monotonic() - started
        time.sleep(0.3)
        counts = [h.finish() for h in hammers]
        unsent = sum(h.unsent for h in hammers)
        return took, sum(c[0] for c in counts), sum(c[1] for c in counts), unsent
    finally:
        project.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--berth", default=os.path.join(HERE, "..", "target", "release", "berth"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    berth = os.path.abspath(args.berth)
    if not os.path.exists(berth):
        sys.exit(f"no berth at {berth}: run cargo build --release first")
    if shutil.which("wrk") and shutil.which("nginx"):
        listener_against_nginx(berth, args.seconds, args.rounds)
    else:
        print("\n1. NOT RUN: the listener against nginx needs wrk and nginx (apt-get install wrk nginx-light)")
    print("\n2. A bad canary (half its requests fail) from taking traffic to the old set restored")
    for interval in [1, 2]:
        for _ in range(args.rounds):
            took, ok, failed = rollback_time(berth, interval)
            print(f"   interval {interval}s: {took:.2f}s = {took / interval:.2f} × the interval; "
                  f"client saw {failed} failed of {ok + failed}")
    print("\n3. Failed requests while 10 services (2 instances each) deploy, a client on each")
    for strategy in ["rolling", "blue_green"]:
        for _ in range(args.rounds):
            took, ok, failed, unsent = failures_during(berth, strategy)
            print(f"   {strategy:<10}: {failed} failed of {ok + failed} requests; deploy took {took:.2f}s"
                  + (f"; {unsent} not sent: the client could not connect" if unsent else ""))


if __name__ == "__main__":
    main()
