#!/usr/bin/env python3
"""Side-by-side runs of berth and the supervisors people use instead.

Each tool runs the same N processes (`berth workload`, an HTTP server that answers
/ready); this script measures, the same way for every tool, the time from
launching the tool until every process answers /ready, the time to stop them all,
and how many survive when the tool itself is killed with SIGKILL. Then it
measures berth alone: start-up along a dependency chain against the chain's own
length, the supervisor's idle CPU and memory, and log throughput.

Usage: python3 bench/startup.py [--berth PATH] [--services 25] [--rounds 3]
Needs: pip install supervisor honcho circus
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"GET /ready HTTP/1.0\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/1.0 200") or s.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def wait_all_ready(ports, limit=60.0):
    """Seconds until every port answers /ready, polling every 2 ms."""
    started = time.monotonic()
    waiting = set(ports)
    while waiting:
        waiting = {p for p in waiting if not ready(p)}
        if time.monotonic() - started > limit:
            raise RuntimeError(f"{len(waiting)} never became ready")
        if waiting:
            time.sleep(0.002)
    return time.monotonic() - started


def descendants_with(marker):
    """Processes whose environment carries `marker`."""
    needle = f"BENCH_MARK={marker}".encode()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    with open(f"/proc/{pid}/stat") as s:
                        if s.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                            found.append(int(pid))
        except OSError:
            pass
    return found


class Tool:
    """How one supervisor is configured, started and stopped."""

    def __init__(self, name, berth):
        self.name = name
        self.berth = berth

    def configure(self, directory, ports):
        command = lambda port: f"{self.berth} workload --port {port}"
        if self.name == "berth":
            lines = ["name: bench", "services:"]
            for i, port in enumerate(ports):
                lines.append(f"  s{i}: {{ local: {{ run: [{self.berth}, workload] }}, ports: {{ http: {port} }}, health: {{ readiness: /ready }} }}")
            write(directory, "berth.yaml", "\n".join(lines) + "\n")
            return [self.berth, "up"]
        if self.name == "supervisord":
            body = "[supervisord]\nnodaemon=true\nlogfile=%(here)s/supervisord.log\npidfile=%(here)s/supervisord.pid\n"
            body += "[unix_http_server]\nfile=%(here)s/supervisor.sock\n"
            for i, port in enumerate(ports):
                body += f"[program:s{i}]\ncommand={command(port)}\nstartsecs=0\nstopasgroup=true\nkillasgroup=true\n"
            write(directory, "supervisord.conf", body)
            return ["supervisord", "-c", os.path.join(directory, "supervisord.conf")]
        if self.name == "honcho":
            write(directory, "Procfile", "".join(f"s{i}: {command(port)}\n" for i, port in enumerate(ports)))
            return ["honcho", "start", "--no-prefix"]
        if self.name == "circus":
            body = "[circus]\ncheck_delay = 5\nendpoint = ipc://%s/circus.sock\npubsub_endpoint = ipc://%s/pubsub.sock\nstats_endpoint = ipc://%s/stats.sock\n" % (directory, directory, directory)
            for i, port in enumerate(ports):
                body += f"[watcher:s{i}]\ncmd = {command(port)}\nnumprocesses = 1\n"
            write(directory, "circus.ini", body)
            return ["circusd", os.path.join(directory, "circus.ini")]
        raise ValueError(self.name)


def write(directory, name, text):
    with open(os.path.join(directory, name), "w") as f:
        f.write(text)


def run_once(tool, services):
    directory = tempfile.mkdtemp(prefix=f"bench-{tool.name}-")
    ports = free_ports(services)
    argv = tool.configure(directory, ports)
    marker = f"{tool.name}-{time.monotonic_ns()}"
    env = dict(os.environ, BENCH_MARK=marker, NO_COLOR="1")
    process = subprocess.Popen(argv, cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    up = wait_all_ready(ports)
    started = time.monotonic()
    process.send_signal(signal.SIGINT if tool.name in ("berth", "honcho") else signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
    while descendants_with(marker) and time.monotonic() - started < 60:
        time.sleep(0.005)
    down = time.monotonic() - started
    # Again, and this time kill the supervisor itself.
    marker = f"{tool.name}-killed-{time.monotonic_ns()}"
    env["BENCH_MARK"] = marker
    process = subprocess.Popen(argv, cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_all_ready(ports)
    process.kill()
    process.wait()
    time.sleep(1.0)
    # Survivors: workloads still serving after their supervisor is gone.
    survivors = [port for port in ports if ready(port)]
    for pid in descendants_with(marker):
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(directory, ignore_errors=True)
    return up, down, len(survivors)


def chain(berth, length, delay_ms):
    """berth's start-up along a chain of `length` services, each booting `delay_ms`."""
    directory = tempfile.mkdtemp(prefix="bench-chain-")
    ports = free_ports(length)
    lines = ["name: chain", "services:"]
    for i, port in enumerate(ports):
        depends = f", depends_on: {{ s{i - 1}: healthy }}" if i else ""
        lines.append(f"  s{i}: {{ local: {{ run: [{berth}, workload, --start-delay, {delay_ms}ms] }}, ports: {{ http: {port} }}, health: {{ readiness: /ready }}{depends} }}")
    write(directory, "berth.yaml", "\n".join(lines) + "\n")
    process = subprocess.Popen([berth, "up"], cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    took = wait_all_ready(ports)
    process.send_signal(signal.SIGINT)
    process.wait()
    shutil.rmtree(directory, ignore_errors=True)
    return took, length * delay_ms / 1000


def example(berth, name):
    """berth's time from launch to all of an example's services up (its own report)."""
    directory = tempfile.mkdtemp(prefix=f"bench-{name}-")
    shutil.copy(os.path.join(HERE, "..", "examples", name, "berth.yaml"), directory)
    started = time.monotonic()
    process = subprocess.Popen([berth, "up"], cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    for line in process.stdout:
        if " up; Ctrl-C stops them" in line:
            took = time.monotonic() - started
            break
    process.send_signal(signal.SIGINT)
    process.communicate()
    shutil.rmtree(directory, ignore_errors=True)
    return took


def idle(berth, services, seconds=10.0):
    """berth's own CPU share and resident memory while its services idle."""
    directory = tempfile.mkdtemp(prefix="bench-idle-")
    ports = free_ports(services)
    Tool("berth", berth).configure(directory, ports)
    process = subprocess.Popen([berth, "up"], cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_all_ready(ports)
    time.sleep(1.0)
    ticks = os.sysconf("SC_CLK_TCK")
    def cpu():
        with open(f"/proc/{process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks
    before, start = cpu(), time.monotonic()
    time.sleep(seconds)
    share = (cpu() - before) / (time.monotonic() - start)
    with open(f"/proc/{process.pid}/status") as f:
        rss_kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    process.send_signal(signal.SIGINT)
    process.wait()
    shutil.rmtree(directory, ignore_errors=True)
    return share, rss_kib / 1024


WRITER = r'''
import os, sys, time
chunk = (b"x" * 99 + b"\n") * 655   # 65,500 bytes of 100-byte lines
total, worst = int(sys.argv[1]), 0.0
written, start = 0, time.monotonic()
while written < total:
    t = time.monotonic()
    os.write(1, chunk)
    worst = max(worst, time.monotonic() - t)
    written += len(chunk)
took = time.monotonic() - start
with open(sys.argv[2], "w") as report:
    report.write(f"longest write {worst * 1000:.2f} ms")
'''


def throughput(berth, megabytes=512):
    """How fast berth takes a service's output, and how long a write ever waits."""
    directory = tempfile.mkdtemp(prefix="bench-logs-")
    write(directory, "writer.py", WRITER)
    total = megabytes << 20
    write(directory, "berth.yaml", f"name: logs\nservices:\n  spam:\n    kind: job\n    local: {{ run: [python3, writer.py, '{total}', report.txt] }}\n")
    started = time.monotonic()
    result = subprocess.run([berth, "up", "-d"], cwd=directory, capture_output=True, text=True)
    took = time.monotonic() - started
    subprocess.run([berth, "down"], cwd=directory, capture_output=True)
    report = open(os.path.join(directory, "report.txt")).read()
    # The same writer into a pipe that `cat` empties into /dev/null, for comparison.
    baseline = subprocess.run(f"python3 writer.py {total} baseline.txt | cat > /dev/null", shell=True, cwd=directory)
    report += "; into `cat > /dev/null`: " + open(os.path.join(directory, "baseline.txt")).read()
    # And straight into a file on the same disk, which is what berth's writes are.
    subprocess.run(f"python3 writer.py {total} direct.txt > direct.log", shell=True, cwd=directory)
    report += "; straight into a file: " + open(os.path.join(directory, "direct.txt")).read()
    shutil.rmtree(directory, ignore_errors=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return total / took / 1e6, report.strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--berth", default=os.path.join(HERE, "..", "target", "release", "berth"))
    parser.add_argument("--services", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    berth = os.path.abspath(args.berth)
    tools = [Tool(name, berth) for name in ("berth", "circus", "honcho", "supervisord") if name == "berth" or shutil.which({"circus": "circusd"}.get(name, name))]
    print(f"{args.services} workloads, no dependencies, median of {args.rounds} rounds")
    print(f"{'tool':<12} {'all ready':>10} {'all stopped':>12} {'survive kill -9':>16}")
    results = {}
    for tool in tools:
        rounds = [run_once(tool, args.services) for _ in range(args.rounds)]
        up = statistics.median(r[0] for r in rounds)
        down = statistics.median(r[1] for r in rounds)
        survivors = max(r[2] for r in rounds)
        results[tool.name] = up
        print(f"{tool.name:<12} {up:>9.3f}s {down:>11.3f}s {survivors:>10} of {args.services}")
    fastest = min(v for k, v in results.items() if k != "berth") if len(results) > 1 else None
    if fastest:
        print(f"berth / fastest other: {results['berth'] / fastest:.2f}")
    for name in ("quickstart", "openpolicy"):
        print(f"berth up examples/{name}: all up in {statistics.median(example(berth, name) for _ in range(args.rounds)):.3f}s")
    took, critical = chain(berth, 5, 200)
    print(f"chain of 5 services booting 200 ms each: all ready in {took:.3f}s; critical path {critical:.3f}s; "
          f"overhead {(took - critical) * 1000:.0f} ms ({took / critical:.3f}x)")
    for count in (25, 100):
        share, rss = idle(berth, count)
        print(f"idle with {count} services: berth uses {share * 100:.3f}% of a core and {rss:.1f} MiB")
    rate, writes = throughput(berth)
    print(f"log throughput: {rate:.0f} MB/s into .berth/logs; the writer's {writes}")


if __name__ == "__main__":
    sys.exit(main())
