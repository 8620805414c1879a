//! The shipped examples, loaded, for the tests that render every one of them.
// Each test file that includes this uses only part of it.
#![allow(dead_code)]

use std::path::Path;

use berth_core::Project;

const EXAMPLES: [&str; 5] = [
    "quickstart",
    "runeframe",
    "srvthreds",
    "symbi",
    "openpolicy",
];

/// Every example, by name, loaded.
pub fn every_example() -> impl Iterator<Item = (&'static str, Project)> {
    EXAMPLES
        .into_iter()
        .map(|example| (example, example_project(example)))
}

pub fn example_project(example: &str) -> Project {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(example)
        .join("berth.yaml");
    berth_core::load_path(&path).unwrap_or_else(|e| panic!("{example}: {e:?}"))
}
