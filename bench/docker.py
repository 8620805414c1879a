#!/usr/bin/env python3
"""berth's Docker runtime side by side with docker-compose, on the same images.

For each ecosystem — the quickstart, as shipped and without its phases, and a
generated one of 20 services that depend on each other — this script runs, round
by round:

  berth:   `berth up -e docker -d` (it returns once every service is ready and the
           job has completed), then `berth down`;
  compose: `docker-compose up -d` on the files `berth render --to compose` writes
           (docker-compose 1.29 has no `--wait`: it is timed from launch until every
           container reports healthy, or exited 0 for the job, polled through the
           Engine's API every 20 ms), then `docker-compose down`.

and reports the time to all healthy and to all removed, with berth's over
compose's as ratios. Images are built here from the release berth, the libraries
it links and busybox (no registry is needed).

Usage: python3 bench/docker.py [--berth PATH] [--rounds 3]
Needs: docker-compose, busybox (Debian's busybox-static), after `cargo build --release`
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class Engine(http.client.HTTPConnection):
    """The Docker Engine's API on its Unix socket."""

    def __init__(self):
        super().__init__("localhost")

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect("/var/run/docker.sock")


def containers(label):
    engine = Engine()
    filters = urllib.parse.quote(json.dumps({"label": [label]}))
    engine.request("GET", f"/containers/json?all=1&filters={filters}")
    listed = json.loads(engine.getresponse().read())
    engine.close()
    return listed


def settled(container):
    """Healthy, or a container without a health check that exited 0."""
    status = container["Status"]
    return "(healthy)" in status or status.startswith("Exited (0)")


def run(argv, cwd):
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def build_images(berth, work):
    """The stand-in workload's image, and the quickstart's three from it."""
    context = os.path.join(work, "image")
    os.makedirs(os.path.join(context, "bin"))
    shutil.copy(berth, os.path.join(context, "bin", "berth"))
    subprocess.run(["strip", os.path.join(context, "bin", "berth")], check=True)
    shutil.copy("/bin/busybox", os.path.join(context, "bin", "busybox"))
    libraries = subprocess.run(["ldd", berth], capture_output=True, text=True, check=True).stdout
    for library in (w for w in libraries.split() if w.startswith("/")):
        target = os.path.join(context, library.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(library, target)
    with open(os.path.join(context, "Dockerfile"), "w") as f:
        f.write('FROM scratch\nCOPY . /\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
                'ENV WORKLOAD_ADDRESS=0.0.0.0\nCMD ["berth", "workload"]\n')
    run(["docker", "build", "-q", "-t", "berth-bench/workload:1", context], work)
    migrate = '#!/bin/sh\necho "api $*: applying migrations"\nsleep 0.2\necho migrations applied\n'
    for name, port in (("api", 9001), ("worker", 9003), ("web", 9002)):
        derived = os.path.join(work, f"quickstart-{name}")
        os.makedirs(os.path.join(derived, "bin"))
        with open(os.path.join(derived, "bin", "api"), "w") as f:
            f.write(migrate)
        os.chmod(os.path.join(derived, "bin", "api"), 0o755)
        with open(os.path.join(derived, "Dockerfile"), "w") as f:
            f.write(f'FROM berth-bench/workload:1\nENV PORT={port}\nCOPY bin/api /bin/api\n'
                    'CMD ["berth", "workload", "--release", "0.1.0"]\n')
        run(["docker", "build", "-q", "-t", f"quickstart/{name}:0.1.0", derived], work)


def generated(count):
    """`count` services, each depending on up to two earlier ones being healthy."""
    lines = ["name: bench20", "services:"]
    for i in range(count):
        port = 9100 + i
        depends = sorted({d for d in (i - 1, i // 2) if 0 <= d < i})
        lines += [
            f"  s{i}:",
            "    image: berth-bench/workload:1",
            f'    command: [berth, workload, --port, "{port}"]',
            f"    ports: {{ http: {port} }}",
            "    health: { readiness: { http: /ready, period: 1s } }",
        ]
        if depends:
            lines.append("    depends_on: { " + ", ".join(f"s{d}: healthy" for d in depends) + " }")
    lines += ["environments:", "  docker: { runtime: compose }"]
    return "\n".join(lines) + "\n"


def berth_round(berth, project, ecosystem):
    started = time.monotonic()
    run([berth, "up", "-e", "docker", "-d"], project)
    up = time.monotonic() - started
    started = time.monotonic()
    run([berth, "down"], project)
    down = time.monotonic() - started
    assert not containers(f"dev.berth.ecosystem={ecosystem}"), "berth left containers"
    return up, down


def compose_round(project, expected):
    rendered = os.path.join(project, "rendered")
    files = ["-p", "benchcompose", "-f", "compose.data.yaml", "-f", "compose.services.yaml"]
    label = "com.docker.compose.project=benchcompose"
    started = time.monotonic()
    run(["docker-compose", *files, "up", "-d"], rendered)
    while True:
        listed = containers(label)
        if len(listed) == expected and all(settled(c) for c in listed):
            break
        if time.monotonic() - started > 300:
            raise RuntimeError("docker-compose's containers never all became healthy")
        time.sleep(0.02)
    up = time.monotonic() - started
    started = time.monotonic()
    run(["docker-compose", *files, "down"], rendered)
    down = time.monotonic() - started
    assert not containers(label), "docker-compose left containers"
    return up, down


def compare(berth, name, yaml, expected, rounds):
    project = tempfile.mkdtemp(prefix=f"berth-bench-docker-{name}-")
    with open(os.path.join(project, "berth.yaml"), "w") as f:
        f.write(yaml)
    run([berth, "render", "--to", "compose", "-e", "docker", "-d", "rendered"], project)
    ecosystem = yaml.split("name:", 1)[1].split()[0]
    print(f"\n{name}: {expected} containers")
    print("round  berth up  compose up  ratio   berth down  compose down  ratio")
    ups, downs = [], []
    for round_number in range(1, rounds + 1):
        berth_up, berth_down = berth_round(berth, project, ecosystem)
        compose_up, compose_down = compose_round(project, expected)
        ups.append(berth_up / compose_up)
        downs.append(berth_down / compose_down)
        print(f"{round_number:<5}  {berth_up:7.2f}s  {compose_up:9.2f}s  {ups[-1]:5.2f}   "
              f"{berth_down:9.2f}s  {compose_down:11.2f}s  {downs[-1]:5.2f}")
    print(f"median ratio: up {statistics.median(ups):.2f}, down {statistics.median(downs):.2f}")
    shutil.rmtree(project, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--berth", default=os.path.join(ROOT, "target", "release", "berth"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    berth = os.path.abspath(args.berth)
    work = tempfile.mkdtemp(prefix="berth-bench-images-")
    build_images(berth, work)
    with open(os.path.join(ROOT, "examples", "quickstart", "berth.yaml")) as f:
        quickstart = f.read()
    # The job's container stays, exited 0, under docker-compose. berth holds the
    # web front back until phase core is up, as the file says; compose has no
    # phases and starts it once the API is healthy. Without the phase line both
    # wait for the same things.
    compare(berth, "quickstart", quickstart, 4, args.rounds)
    compare(berth, "quickstart without phases", quickstart.replace("    phase: frontend\n", ""), 4, args.rounds)
    compare(berth, "generated", generated(20), 20, args.rounds)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
