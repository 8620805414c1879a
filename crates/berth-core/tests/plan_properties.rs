//! For random acyclic dependency graphs: every service starts after everything it
//! depends on, and every wave is as early as it can be.

use std::collections::HashMap;

use berth_core::{load_str, plan};
use proptest::prelude::*;

/// An ecosystem of `n` services where service i may depend only on services < i
/// (so the graph is acyclic), each edge present when its bit is set.
fn ecosystem_yaml(n: usize, edges: &[bool]) -> String {
    let mut yaml = String::from("name: random\nservices:\n");
    let mut bit = 0;
    for i in 0..n {
        let deps: Vec<String> = (0..i)
            .filter(|_| {
                bit += 1;
                edges[bit - 1]
            })
            .map(|j| format!("s{j}"))
            .collect();
        yaml += &format!(
            "  s{i}: {{ image: a:1, depends_on: [{}] }}\n",
            deps.join(", ")
        );
    }
    yaml
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn waves_respect_dependencies_and_are_maximal(n in 1usize..24, edges in proptest::collection::vec(any::<bool>(), 276)) {
        let yaml = ecosystem_yaml(n, &edges);
        let project = load_str("berth.yaml", &yaml).unwrap();
        let ecosystem = project.ecosystem(None).unwrap();
        let plan = plan::plan(ecosystem, &plan::select(ecosystem, &[]).unwrap());
        prop_assert_eq!(plan.phases.len(), 1);
        let wave_of: HashMap<&str, usize> = plan.phases[0]
            .waves
            .iter()
            .enumerate()
            .flat_map(|(i, wave)| wave.iter().map(move |step| (step.service.as_str(), i)))
            .collect();
        prop_assert_eq!(wave_of.len(), n);
        for (name, service) in &ecosystem.services {
            let mine = wave_of[name.as_str()];
            let latest_dependency = service.depends_on.names().map(|d| wave_of[d]).max();
            // After everything it depends on ...
            for dependency in service.depends_on.names() {
                prop_assert!(wave_of[dependency] < mine, "{} in wave {} but its dependency {} in {}", name, mine, dependency, wave_of[dependency]);
            }
            // ... and no later than it must be.
            prop_assert_eq!(mine, latest_dependency.map_or(0, |w| w + 1));
        }
        // The critical chain is a real dependency path as long as there are waves.
        prop_assert_eq!(plan.critical_chain.len(), plan.phases[0].waves.len());
        for pair in plan.critical_chain.windows(2) {
            prop_assert!(ecosystem.services[&pair[1]].depends_on.names().any(|d| d == pair[0]));
        }
    }
}
