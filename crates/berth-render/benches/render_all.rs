//! Rendering every target for a generated ecosystem of 1,000 services (several
//! thousand Kubernetes objects). Goal: under 200 ms.

use berth_core::load_str;
use criterion::{Criterion, criterion_group, criterion_main};

fn render_all(c: &mut Criterion) {
    let project = load_str("berth.yaml", &berth_core::synthetic::ecosystem(1000)).unwrap();
    let ecosystem = project.ecosystem(Some("prod")).unwrap();
    let environments: Vec<&berth_core::Ecosystem> = project.ecosystems().collect();
    let objects = berth_render::objects(ecosystem).len();
    c.bench_function(
        &format!("render all targets, 1000 services ({objects} Kubernetes objects)"),
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
}

criterion_group!(benches, render_all);
criterion_main!(benches);
