//! One 3×3 conv (64→64 channels, 56×56, batch 1, one thread) per backend, prepared once,
//! timed by criterion: a cross-check of flopsbench's own sampler on the same work.

use criterion::{Criterion, criterion_group, criterion_main};
use flopsbench::backend::{self, Settings};
use flopsbench::device::DeviceSpec;
use flopsbench::model::Model;
use flopsbench::spec::{OpCase, OpKind, Shape};

fn one_conv_per_backend(c: &mut Criterion) {
    let mut case = OpCase::paper(OpKind::Conv, Shape::new(64, 56, 56));
    case.layers = 1;
    let model = Model::new(&case.to_net().expect("valid case"), 1, 0, true);
    let settings = Settings::f32(1);
    for name in backend::names() {
        let b = backend::by_name(name).expect("known backend");
        if let Err(why) = b.probe(&DeviceSpec::Cpu) {
            eprintln!("skipping {name}: {why}");
            continue;
        }
        let mut prepared = b
            .prepare(&model, &DeviceSpec::Cpu, &settings)
            .expect("prepares");
        c.bench_function(&format!("{name}: conv 64x56x56 k3, 1 thread"), |bench| {
            bench.iter(|| {
                prepared.run().expect("runs");
                prepared.sync().expect("syncs");
            })
        });
    }
}

criterion_group!(benches, one_conv_per_backend);
criterion_main!(benches);
