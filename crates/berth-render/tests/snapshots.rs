//! Every target of every example, as reviewed text: a change to what berth
//! renders shows up here as a diff to read before it lands.

use berth_core::Ecosystem;
use berth_core::model::Runtime;

mod examples;
use examples::every_example;

fn joined(files: &[berth_render::File]) -> String {
    files
        .iter()
        .map(|file| format!("### {}\n{}", file.name, file.text))
        .collect()
}

/// The last environment on `runtime`: the production-like one, in the examples.
/// Without one, the first environment.
fn last_on<'a>(ecosystems: &[&'a Ecosystem], runtime: Runtime) -> &'a Ecosystem {
    ecosystems
        .iter()
        .rev()
        .find(|e| e.environment.runtime == runtime)
        .unwrap_or(&ecosystems[0])
}

#[test]
fn every_target_of_every_example() {
    for (example, project) in every_example() {
        let all: Vec<&Ecosystem> = project.ecosystems().collect();
        let compose = last_on(&all, Runtime::Compose);
        let cluster = last_on(&all, Runtime::Kubernetes);
        let on_kubernetes: Vec<&Ecosystem> = project.ecosystems_on(Runtime::Kubernetes).collect();
        let targets = [
            ("compose", berth_render::compose(compose)),
            ("kubernetes", berth_render::kubernetes(cluster)),
            ("kustomize", berth_render::kustomize(&on_kubernetes)),
            ("monitoring", berth_render::monitoring(cluster)),
            ("ci", berth_render::ci(cluster, &all)),
        ];
        for (target, files) in targets {
            insta::assert_snapshot!(format!("{example}-{target}"), joined(&files));
        }
    }
}
