//! The berth.yaml examples in the docs load as they are shown.

use std::path::Path;

#[test]
fn every_yaml_example_in_the_docs_loads() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let mut loaded = 0;
    for page in ["berth-yaml.md", "checks.md"] {
        let text = std::fs::read_to_string(docs.join(page)).unwrap();
        for (index, block) in text.split("```yaml\n").skip(1).enumerate() {
            let yaml = block.split("```").next().unwrap();
            if !yaml.starts_with("name:") {
                continue; // a fragment of a file, shown for one key
            }
            if let Err(problems) =
                berth_core::load_str(&format!("{page} example {}", index + 1), yaml)
            {
                panic!("{problems}");
            }
            loaded += 1;
        }
    }
    assert!(loaded >= 8, "only {loaded} examples found");
}
