//! Everything berth does with a file that loads: the standards check, the plan
//! of every environment, and every render target.

#![no_main]

use berth_core::model::Runtime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(project) = berth_core::load_str("berth.yaml", text) else {
        return;
    };
    let all: Vec<_> = project.ecosystems().collect();
    for ecosystem in &all {
        let _ = berth_core::check::check(ecosystem);
        if let Ok(selection) = berth_core::plan::select(ecosystem, &[]) {
            let _ = berth_core::plan::plan(ecosystem, &selection);
        }
        let _ = berth_render::compose(ecosystem);
        let _ = berth_render::kubernetes(ecosystem);
        let _ = berth_render::monitoring(ecosystem);
        let _ = berth_render::ci(ecosystem, &all);
    }
    let on_kubernetes: Vec<_> = project.ecosystems_on(Runtime::Kubernetes).collect();
    if !on_kubernetes.is_empty() {
        let _ = berth_render::kustomize(&on_kubernetes);
    }
});
