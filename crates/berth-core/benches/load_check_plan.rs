//! Load + validate + check + plan of a generated ecosystem of 1,000 services with 4
//! environments. Goal: under 50 ms.

use berth_core::{check, load_str, plan};
use criterion::{Criterion, criterion_group, criterion_main};

/// The allocator the `berth` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn load_check_plan(c: &mut Criterion) {
    let yaml = berth_core::synthetic::ecosystem(1000);
    c.bench_function(
        "load+validate+check+plan, 1000 services x 4 environments",
        |b| {
            b.iter(|| {
                let project = load_str("berth.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"));
                for environment in ["local", "docker", "staging", "prod"] {
                    let ecosystem = project.ecosystem(Some(environment)).unwrap();
                    let report = check::check(ecosystem);
                    let plan = plan::plan(ecosystem, &plan::select(ecosystem, &[]).unwrap());
                    assert_eq!(plan.services().count(), 1000);
                    std::hint::black_box(report.score());
                }
            })
        },
    );
}

criterion_group!(benches, load_check_plan);
criterion_main!(benches);
