//! Rendering for a generated ecosystem of 1,000 services (several thousand
//! Kubernetes objects): every target, and the Kustomize tree of its two
//! Kubernetes environments on its own, since it renders each of them. Goal for
//! all targets: under 200 ms.

use berth_core::load_str;
use berth_core::model::Runtime;
use criterion::{Criterion, criterion_group, criterion_main};

/// The allocator the `berth` binary renders with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn render_all(c: &mut Criterion) {
    let project = load_str("berth.yaml", &berth_core::synthetic::ecosystem(1000)).unwrap();
    let ecosystem = project.ecosystem(Some("prod")).unwrap();
    let environments: Vec<&berth_core::Ecosystem> = project.ecosystems().collect();
    let on_kubernetes: Vec<&berth_core::Ecosystem> =
        project.ecosystems_on(Runtime::Kubernetes).collect();
    let objects = berth_render::objects(ecosystem).len();
    c.bench_function(
        &format!("render one environment to compose, kubernetes, monitoring and ci, 1000 services ({objects} Kubernetes objects)"),
        |b| {
            b.iter(|| {
                let mut files = berth_render::compose(ecosystem);
                files.extend(berth_render::kubernetes(ecosystem));
                files.extend(berth_render::monitoring(ecosystem));
                files.extend(berth_render::ci(ecosystem, &environments));
                std::hint::black_box(files)
            })
        },
    );
    c.bench_function(
        "render the kustomize tree of two environments, 1000 services",
        |b| b.iter(|| std::hint::black_box(berth_render::kustomize(&on_kubernetes))),
    );
    c.bench_function(
        "render all targets, kustomize included, 1000 services",
        |b| {
            b.iter(|| {
                let mut files = berth_render::compose(ecosystem);
                files.extend(berth_render::kubernetes(ecosystem));
                files.extend(berth_render::kustomize(&on_kubernetes));
                files.extend(berth_render::monitoring(ecosystem));
                files.extend(berth_render::ci(ecosystem, &environments));
                std::hint::black_box(files)
            })
        },
    );
}

criterion_group!(benches, render_all);
criterion_main!(benches);
