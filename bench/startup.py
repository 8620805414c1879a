#!/usr/bin/env python3
"""Side-by-side runs of berth and the supervisors people use instead.

Each tool runs the same N processes (`berth-workload`, the stand-in HTTP server that
answers /ready, as a binary of its own that starts in half the time of `berth
workload`); this script measures, the same way for every tool, the time from
launching the tool until every process answers /ready, the time to stop them all,
how many it found running, how many were left after its stop (and killed here),
and how many survive when the tool itself is killed with SIGKILL; berth's all-ready
time is reported over each other tool's, round by round. Then it measures berth
alone: a dependency tree up to 1,000 services against its critical path and the
machine's own bound, with the supervisor's CPU and memory; its direct Kubernetes render against `kubectl
kustomize` of the Kustomize tree it writes; the shipped examples; a chain; its idle
CPU and memory; and log throughput.

Usage: python3 bench/startup.py [--berth PATH] [--workload PATH] [--services 25,100,250]
       [--scale 100,250,1000] [--kustomize 100,250,1000] [--rounds 3]
Needs: pip install supervisor honcho circus; kubectl for the Kustomize comparison
"""

import argparse
import json
import math
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
    """Ports nothing listens on, one at a time so that a thousand fit in any fd limit."""
    ports = []
    while len(ports) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in ports:
            ports.append(port)
    return ports


def ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"GET /ready HTTP/1.0\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/1.0 200") or s.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def wait_all_ready(ports, limit=60.0):
    """Seconds until the last port answered /ready, polling every 2 ms: each port's
    time is the moment its own check passed, not the end of the pass over all."""
    started = time.monotonic()
    waiting = set(ports)
    last = started
    while waiting:
        for port in list(waiting):
            if ready(port):
                waiting.discard(port)
                last = time.monotonic()
        if time.monotonic() - started > limit:
            raise RuntimeError(f"{len(waiting)} never became ready")
        if waiting:
            time.sleep(0.002)
    return last - started


def descendants_with(marker, program=None):
    """Processes whose environment carries `marker`: all of them, or only those
    running `program` (the workloads), leaving out the tool and its helpers."""
    needle = f"BENCH_MARK={marker}".encode()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0") and (program is None or runs(pid, program)):
                    with open(f"/proc/{pid}/stat") as s:
                        if s.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                            found.append(int(pid))
        except OSError:
            pass
    return found


def runs(pid, program):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")[0] == os.fsencode(program)


class Tool:
    """How one supervisor is configured, started and stopped."""

    def __init__(self, name, berth, workload):
        self.name = name
        self.berth = berth
        self.workload = workload

    def configure(self, directory, ports):
        command = lambda port: f"{self.workload} --port {port}"
        if self.name == "berth":
            lines = ["name: bench", "services:"]
            for i, port in enumerate(ports):
                lines.append(f"  s{i}: {{ local: {{ run: [{self.workload}] }}, ports: {{ http: {port} }}, health: {{ readiness: /ready }} }}")
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
            # circus gives its watchers an empty environment unless told otherwise;
            # copy_env lets them carry the marker this script finds them by.
            for i, port in enumerate(ports):
                body += f"[watcher:s{i}]\ncmd = {command(port)}\nnumprocesses = 1\ncopy_env = True\n"
            write(directory, "circus.ini", body)
            return ["circusd", os.path.join(directory, "circus.ini")]
        raise ValueError(self.name)

    def stop_signal(self):
        return signal.SIGINT if self.name in ("berth", "honcho") else signal.SIGTERM


def write(directory, name, text):
    with open(os.path.join(directory, name), "w") as f:
        f.write(text)


def kill_all(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class Round:
    """One tool's figures in one round."""

    def __init__(self, up, down, found, left, survivors):
        self.up = up              # seconds until every service answered /ready
        self.down = down          # seconds until all had gone, None if the tool did not stop
        self.found = found        # services seen running under the tool when all were ready
        self.left = left          # services still running after the stop, killed by this script
        self.survivors = survivors  # services still serving after the tool was killed -9


def run_once(tool, services, stop_limit):
    directory = tempfile.mkdtemp(prefix=f"bench-{tool.name}-")
    ports = free_ports(services)
    argv = tool.configure(directory, ports)
    marker = f"{tool.name}-{time.monotonic_ns()}"
    env = dict(os.environ, BENCH_MARK=marker, NO_COLOR="1")
    process = subprocess.Popen(argv, cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    up = wait_all_ready(ports)
    found = len(descendants_with(marker, tool.workload))
    started = time.monotonic()
    process.send_signal(tool.stop_signal())
    down = None
    try:
        process.wait(timeout=stop_limit)
        while descendants_with(marker) and time.monotonic() - started < stop_limit:
            time.sleep(0.005)
        if not descendants_with(marker):
            down = time.monotonic() - started
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    leftovers = descendants_with(marker, tool.workload)
    kill_all(descendants_with(marker))
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
    kill_all(descendants_with(marker))
    shutil.rmtree(directory, ignore_errors=True)
    return Round(up, down, found, len(leftovers), len(survivors))


def side_by_side(tools, services, rounds, stop_limit):
    """Every tool in every round, in turn, so a busy moment of the machine hits all."""
    print(f"{services} workloads, no dependencies, {rounds} rounds")
    print(f"{'round':<6} {'tool':<12} {'all ready':>10} {'all stopped':>12} {'found':>9} {'left':>5} {'survive kill -9':>16}")
    ups = {tool.name: [] for tool in tools}
    for number in range(1, rounds + 1):
        for tool in tools:
            r = run_once(tool, services, stop_limit)
            ups[tool.name].append(r.up)
            down = f"{r.down:.3f}s" if r.down is not None else "did not stop"
            print(f"{number:<6} {tool.name:<12} {r.up:>9.3f}s {down:>12} {r.found:>4} of {services:<4}{r.left:>4} {r.survivors:>9} of {services}", flush=True)
    others = [tool.name for tool in tools if tool.name != "berth"]
    if others:
        print("berth's all-ready time over each tool's, per round:")
        print(f"{'round':<6} " + " ".join(f"{name:>12}" for name in others))
        for number in range(rounds):
            print(f"{number + 1:<6} " + " ".join(f"{ups['berth'][number] / ups[name][number]:>12.2f}" for name in others))
    print()


def tree(berth, workload, services, delay_ms, fanout=3):
    """`berth up -d` of services in a tree, each waiting for its parent to be healthy
    and booting `delay_ms`: the time to all ready against the critical path, the
    size of the last level, and the supervisor's CPU time and memory once all are
    ready. All ready is when `up -d` returns, which it does once berth has seen
    every readiness probe pass; the script then checks each port itself, untimed
    so that its own checks do not take the two cores from what it measures."""
    directory = tempfile.mkdtemp(prefix="bench-tree-")
    ports = free_ports(services)
    depth = [0] * services
    lines = ["name: tree", "services:"]
    for i, port in enumerate(ports):
        depends = ""
        if i:
            parent = (i - 1) // fanout
            depth[i] = depth[parent] + 1
            depends = f", depends_on: {{ s{parent}: healthy }}"
        lines.append(f"  s{i}: {{ local: {{ run: [{workload}, --start-delay, {delay_ms}ms] }}, ports: {{ http: {port} }}, health: {{ readiness: /ready }}{depends} }}")
    write(directory, "berth.yaml", "\n".join(lines) + "\n")
    steps = max(depth) + 1
    started = time.monotonic()
    result = subprocess.run([berth, "up", "-d"], cwd=directory, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    took = time.monotonic() - started
    late = [port for port in ports if not ready(port)]
    if late:
        took = time.monotonic() - started + wait_all_ready(late)
    pid = json.load(open(os.path.join(directory, ".berth", "berth.json")))["pid"]
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    rss = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024
    threads = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads")))
    subprocess.run([berth, "down"], cwd=directory, capture_output=True)
    shutil.rmtree(directory, ignore_errors=True)
    last_level = depth.count(max(depth))
    return took, steps, steps * delay_ms / 1000, last_level, cpu, rss, threads


def start_cost(argv, starts=100):
    """CPU seconds one start of `argv` costs on this machine, from the fork to
    its first answer on /ready: the kernel's exec, the loader, the program's own
    start. Measured one start at a time, so that nothing else competes."""
    before = os.times()
    for port in free_ports(starts):
        process = subprocess.Popen(argv + ["--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not ready(port):
            time.sleep(0.0005)
        process.kill()
        process.wait()
    after = os.times()
    return (after.children_user + after.children_system - before.children_user - before.children_system) / starts


def scaling(berth, workload, sizes, delay_ms):
    cost = start_cost([workload])
    cores = os.cpu_count()
    print(f"berth up -d of a tree of services (each waits for its parent to be healthy; each boots {delay_ms} ms)")
    print(f"bound: what no supervisor can beat here: the critical path, plus the last level's starts at "
          f"{cost * 1000:.2f} ms of CPU each (measured) shared by {cores} cores")
    print(f"{'services':>8} {'all ready':>10} {'steps':>6} {'critical':>9} {'goal':>7} {'bound':>7} {'cpu':>7} {'memory':>9} {'threads':>8}")
    figures = []
    for size in sizes:
        took, steps, critical, last_level, cpu, rss, threads = tree(berth, workload, size, delay_ms)
        goal = 1.2 * critical + 0.005 * steps
        bound = critical + last_level * cost / cores
        figures.append((size, cpu, rss))
        print(f"{size:>8} {took:>9.3f}s {steps:>6} {critical:>8.3f}s {goal:>6.3f}s {bound:>6.3f}s {cpu:>6.2f}s {rss:>6.1f}MiB {threads:>8}", flush=True)
    (n0, cpu0, rss0), (n1, cpu1, rss1) = figures[0], figures[-1]
    growth = math.log(n1 / n0)
    print(f"from {n0} to {n1} services: supervisor CPU grows with exponent {math.log(cpu1 / cpu0) / growth:.2f}, memory {math.log(rss1 / rss0) / growth:.2f}")
    print()


def generated(services):
    """An ecosystem of `services` services for rendering: phases, dependencies, probes,
    and two Kubernetes environments, the second with overlays."""
    lines = ["name: generated", "services:"]
    for i in range(services):
        phase = ["core", "business", "frontend"][i * 3 // services]
        deps = sorted({d for d in (i - 7, i - 13) if d >= 0 and ["core", "business", "frontend"][d * 3 // services] <= phase})
        depends = ", ".join(f"s{d}: started" for d in deps)
        lines.append(f"  s{i}: {{ phase: {phase}, image: example/s{i}:1.0.{i}, ports: {{ http: {10000 + i} }}, "
                     f"health: {{ liveness: /healthz, readiness: /ready }}, depends_on: {{ {depends} }}, "
                     f"env: {{ LOG_LEVEL: info }}, resources: {{ cpu: 100m, memory: 128Mi }} }}")
    lines.append("environments:")
    lines.append("  staging: { runtime: kubernetes, defaults: { replicas: 2 } }")
    lines.append("  prod: { runtime: kubernetes, production: true, defaults: { replicas: 3, resources: { cpu: 500m, memory: 1Gi } }, services: { s1: { replicas: 5 } } }")
    return "\n".join(lines) + "\n"


def timed(argv, cwd, rounds):
    best = None
    for _ in range(rounds):
        started = time.monotonic()
        result = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        took = time.monotonic() - started
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {result.stderr}")
        best = took if best is None else min(best, took)
    return best


def kustomize(berth, sizes, rounds):
    """The prod environment's objects, rendered by berth directly and built by
    `kubectl kustomize` from the Kustomize tree berth writes for the same file."""
    if not shutil.which("kubectl"):
        print("kubectl not found: the Kustomize comparison did not run\n")
        return
    print(f"the prod environment's Kubernetes objects, best of {rounds} (kubectl once from 500 services)")
    print(f"{'services':>8} {'berth render':>13} {'kubectl kustomize':>18} {'ratio':>8}")
    for size in sizes:
        directory = tempfile.mkdtemp(prefix="bench-kustomize-")
        write(directory, "berth.yaml", generated(size))
        subprocess.run([berth, "render", "--to", "kustomize", "-d", "tree"], cwd=directory, check=True, capture_output=True)
        direct = timed([berth, "render", "-e", "prod", "--to", "kubernetes"], directory, rounds)
        # kubectl takes minutes past a few hundred services: once is enough there.
        built = timed(["kubectl", "kustomize", "tree/overlays/prod"], directory, rounds if size < 500 else 1)
        print(f"{size:>8} {direct:>12.3f}s {built:>17.3f}s {built / direct:>7.0f}x", flush=True)
        shutil.rmtree(directory, ignore_errors=True)
    print()


def chain(berth, workload, length, delay_ms):
    """berth's start-up along a chain of `length` services, each booting `delay_ms`."""
    directory = tempfile.mkdtemp(prefix="bench-chain-")
    ports = free_ports(length)
    lines = ["name: chain", "services:"]
    for i, port in enumerate(ports):
        depends = f", depends_on: {{ s{i - 1}: healthy }}" if i else ""
        lines.append(f"  s{i}: {{ local: {{ run: [{workload}, --start-delay, {delay_ms}ms] }}, ports: {{ http: {port} }}, health: {{ readiness: /ready }}{depends} }}")
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
    took, said = None, []
    for line in process.stdout:
        said.append(line.rstrip())
        if " up; Ctrl-C stops them" in line:
            took = time.monotonic() - started
            break
    process.send_signal(signal.SIGINT)
    process.communicate()
    shutil.rmtree(directory, ignore_errors=True)
    if took is None:
        # Its ports are fixed (8080 for the gateway): another program may hold one.
        raise RuntimeError(f"examples/{name} did not come up: {said[-1] if said else 'no output'}")
    return took


def idle(berth, workload, services, seconds=10.0):
    """berth's own CPU share and resident memory while its services idle."""
    directory = tempfile.mkdtemp(prefix="bench-idle-")
    ports = free_ports(services)
    Tool("berth", berth, workload).configure(directory, ports)
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
    parser.add_argument("--workload", help="the stand-in's binary (default: berth-workload beside berth)")
    parser.add_argument("--services", default="25,100,250", help="sizes side by side, comma-separated")
    parser.add_argument("--scale", default="100,250,1000", help="sizes of berth's dependency tree")
    parser.add_argument("--kustomize", default="100,250,1000", help="sizes of the Kustomize comparison")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stop-limit", type=float, default=30.0, help="seconds a tool has to stop")
    args = parser.parse_args()
    sizes = lambda text: [int(n) for n in text.split(",") if n]
    berth = os.path.abspath(args.berth)
    workload = os.path.abspath(args.workload or os.path.join(os.path.dirname(berth), "berth-workload"))
    tools = [Tool("berth", berth, workload)]
    for name, program in (("circus", "circusd"), ("honcho", "honcho"), ("supervisord", "supervisord")):
        if shutil.which(program):
            tools.append(Tool(name, berth, workload))
        else:
            print(f"{program} not found: {name} did not run (pip install supervisor honcho circus)")
    for services in sizes(args.services):
        side_by_side(tools, services, args.rounds, args.stop_limit)
    if sizes(args.scale):
        scaling(berth, workload, sizes(args.scale), 100)
    if sizes(args.kustomize):
        kustomize(berth, sizes(args.kustomize), args.rounds)
    for name in ("quickstart", "openpolicy"):
        try:
            print(f"berth up examples/{name}: all up in {statistics.median(example(berth, name) for _ in range(args.rounds)):.3f}s")
        except RuntimeError as e:
            print(e)
    took, critical = chain(berth, workload, 5, 200)
    print(f"chain of 5 services booting 200 ms each: all ready in {took:.3f}s; critical path {critical:.3f}s; "
          f"overhead {(took - critical) * 1000:.0f} ms ({took / critical:.3f}x)")
    for count in (25, 100):
        share, rss = idle(berth, workload, count)
        print(f"idle with {count} services: berth uses {share * 100:.3f}% of a core and {rss:.1f} MiB")
    rate, writes = throughput(berth)
    print(f"log throughput: {rate:.0f} MB/s into .berth/logs; the writer's {writes}")


if __name__ == "__main__":
    sys.exit(main())
