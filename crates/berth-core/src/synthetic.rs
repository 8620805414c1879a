//! A generated ecosystem of any size, for benchmarks: data stores, services in
//! three phases that depend on each other, probes, resources, references and
//! secrets, and four environments with overlays.

/// `services` services in four phases, one in 25 a data store; each service depends on
/// up to three earlier ones; four environments with overlays.
pub fn ecosystem(services: usize) -> String {
    let mut yaml = String::from(
        "name: generated\nstandards: { ports: 10000-60000, health_path: /healthz }\nservices:\n",
    );
    for i in 0..services {
        if i % 25 == 0 {
            let kind = ["postgres", "redis", "mongodb", "rabbitmq"][i / 25 % 4];
            yaml += &format!(
                "  s{i}:\n    kind: {kind}\n    ports: {{ main: {} }}\n    resources: {{ cpu: 250m, memory: 512Mi }}\n    backup: {{ schedule: \"0 2 * * *\" }}\n",
                10000 + i
            );
            continue;
        }
        let phase = ["core", "business", "frontend"][i * 3 / services];
        let deps: Vec<String> = std::collections::BTreeSet::from([
            i / 25 * 25,
            i.saturating_sub(7),
            i.saturating_sub(13),
        ])
        .into_iter()
        .filter(|d| {
            *d < i && (*d % 25 == 0 || ["core", "business", "frontend"][d * 3 / services] <= phase)
        })
        .map(|d| format!("s{d}: {}", if d % 25 == 0 { "healthy" } else { "started" }))
        .collect();
        yaml += &format!(
            "  s{i}:\n    phase: {phase}\n    image: example/s{i}:1.0.{i}\n    ports: {{ http: {} }}\n    health: {{ liveness: /healthz, readiness: {{ http: /ready, period: 2s }} }}\n    depends_on: {{ {} }}\n    env: {{ UPSTREAM: \"${{s{}.url}}/x\", LOG_LEVEL: info }}\n    secrets: {{ TOKEN: {{ env: TOKEN_{i} }} }}\n    resources: {{ cpu: 100m, memory: 128Mi, cpu_limit: 500m, memory_limit: 256Mi }}\n",
            10000 + i,
            deps.join(", "),
            i / 25 * 25,
        );
    }
    yaml += "environments:\n  local: { runtime: local }\n  docker: { runtime: compose }\n  staging: { runtime: kubernetes, production: true, defaults: { replicas: 2 } }\n  prod:\n    runtime: kubernetes\n    production: true\n    defaults: { replicas: 3, resources: { cpu: 500m, memory: 1Gi } }\n    services:\n      s1: { replicas: 5 }\n";
    yaml
}
