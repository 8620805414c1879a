#!/usr/bin/env python3
"""`berth deploy` of srvthreds' prod environment against a real API server,
side by side with `kubectl apply --server-side -f` of the same objects followed
by `kubectl rollout status` for each Deployment and `kubectl wait` for each Job:
wall time to everything ready, and the API requests each made. kubectl is run
twice: as typed, and with `--validate=false`, which spares it the download of
the server's OpenAPI documents that its default validation makes.

Each round deploys into fresh namespaces (one per tool, the Secret the objects
need made first), alternating which tool goes first. Requests are counted from
the API server's audit log, by user agent (`berth/…`, `kubectl/…`), when
BERTH_BENCH_AUDIT_LOG names it (a policy at level Metadata will do); without
it only the times are reported.

Usage: BERTH_BENCH_KUBECONFIG=KUBECONFIG [BERTH_BENCH_AUDIT_LOG=audit.log] \\
       python3 bench/kubernetes.py [--berth PATH] [--rounds 5]
Needs: kubectl, and cargo build --release.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "srvthreds", "berth.yaml")
NAMESPACE_IN_FILE = "srvthreds-prod"


def run(argv, env, cwd=None, check=True):
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def fresh_namespace(namespace, env):
    run(["kubectl", "delete", "namespace", namespace, "--ignore-not-found", "--wait=true"], env)
    run(["kubectl", "create", "namespace", namespace], env)
    run(["kubectl", "create", "secret", "generic", "srvthreds-secrets", "-n", namespace,
         "--from-literal=jwt=bench", "--from-literal=rabbitmq-password=bench"], env)


def project(namespace):
    folder = tempfile.mkdtemp(prefix="berth-bench-kube-")
    with open(EXAMPLE) as f:
        text = f.read().replace(f"namespace: {NAMESPACE_IN_FILE}\n", f"namespace: {namespace}\n")
    with open(os.path.join(folder, "berth.yaml"), "w") as f:
        f.write(text)
    return folder


def audit_lines(path):
    if not path:
        return 0
    with open(path) as f:
        return sum(1 for _ in f)


def requests_since(path, start_line, agent):
    """Requests in the audit log after `start_line` whose user agent starts with `agent`."""
    if not path:
        return None
    count = 0
    with open(path) as f:
        for number, line in enumerate(f):
            if number < start_line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("stage") == "ResponseComplete" and event.get("userAgent", "").startswith(agent):
                count += 1
    return count


def deploy_with_berth(berth, folder, env):
    started = time.monotonic()
    done = run([berth, "deploy", "-e", "prod"], env, cwd=folder, check=False)
    took = time.monotonic() - started
    if done.returncode != 0 or "succeeded" not in done.stdout:
        sys.exit(f"berth deploy failed:\n{done.stdout}{done.stderr}")
    return took


def deploy_with_kubectl(manifest, namespace, env, validate):
    started = time.monotonic()
    run(["kubectl", "apply", "--server-side", "--field-manager=kubectl-bench",
         f"--validate={'true' if validate else 'false'}", "-f", manifest], env)
    names = run(["kubectl", "get", "deployments,jobs", "-n", namespace, "-o", "name"], env).stdout.split()
    for name in names:
        if name.startswith("deployment"):
            run(["kubectl", "rollout", "status", name, "-n", namespace, "--timeout=300s"], env)
        else:
            run(["kubectl", "wait", "--for=condition=complete", name, "-n", namespace, "--timeout=300s"], env)
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--berth", default=os.path.join(HERE, "..", "target", "release", "berth"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    kubeconfig = os.environ.get("BERTH_BENCH_KUBECONFIG")
    if not kubeconfig:
        sys.exit("set BERTH_BENCH_KUBECONFIG to the kubeconfig of the cluster to deploy to")
    if not shutil.which("kubectl"):
        sys.exit("kubectl is not installed")
    audit = os.environ.get("BERTH_BENCH_AUDIT_LOG")
    env = dict(os.environ, KUBECONFIG=kubeconfig, NO_COLOR="1")
    berth_ns, kubectl_ns = "bench-berth", "bench-kubectl"

    # kubectl applies what berth renders for the same environment, in its own namespace.
    render_dir = tempfile.mkdtemp(prefix="berth-bench-render-")
    folder = project(kubectl_ns)
    run([args.berth, "render", "--to", "kubernetes", "-e", "prod", "-d", render_dir], env, cwd=folder)
    manifest = os.path.join(render_dir, "kubernetes.yaml")
    objects = len(re.findall(r"^kind: ", open(manifest).read(), re.M))

    tools = ["berth", "kubectl", "kubectl --validate=false"]
    times = {tool: [] for tool in tools}
    calls = {tool: [] for tool in tools}
    for round_ in range(args.rounds):
        order = tools[round_ % 3:] + tools[:round_ % 3]
        for tool in order:
            namespace = berth_ns if tool == "berth" else kubectl_ns
            fresh_namespace(namespace, env)
            before = audit_lines(audit)
            if tool == "berth":
                took = deploy_with_berth(args.berth, project(namespace), env)
                agent = "berth/"
            else:
                took = deploy_with_kubectl(manifest, namespace, env, tool == "kubectl")
                agent = "kubectl/"
            time.sleep(1)  # the audit log is written after each response
            times[tool].append(took)
            calls[tool].append(requests_since(audit, before, agent))
            print(f"round {round_ + 1} {tool:<24} {took:6.2f}s  requests {calls[tool][-1]}", flush=True)
    for namespace in (berth_ns, kubectl_ns):
        run(["kubectl", "delete", "namespace", namespace, "--wait=false"], env, check=False)

    median = {tool: statistics.median(times[tool]) for tool in tools}
    print(f"\nsrvthreds prod: {objects} objects; median of {args.rounds} rounds")
    print(f"  berth deploy                                          {median['berth']:6.2f}s")
    for tool in tools[1:]:
        print(f"  {tool + ' apply + rollout status/wait':<52}  {median[tool]:6.2f}s"
              f"  (berth / it: {median['berth'] / median[tool]:.2f})")
    if audit:
        used = {tool: statistics.median(calls[tool]) for tool in tools}
        print("  API requests: " + ", ".join(f"{tool} {used[tool]:.0f}" for tool in tools)
              + f" (berth / kubectl: {used['berth'] / used['kubectl']:.2f})")


if __name__ == "__main__":
    main()
