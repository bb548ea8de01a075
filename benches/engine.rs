//! The measurement engine's own cost: the sampling loop around an empty closure (what
//! `calibrate_overhead` records per run), the statistics of a run's samples, and the f64
//! reference every operator-stack case is checked against before it is timed.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use flopsbench::measure::summarize;

fn sampling_loop_overhead(c: &mut Criterion) {
    let mut empty = || -> flopsbench::Result<()> { Ok(()) };
    // black_box hides the closure so the call stays an indirect call, as in `measure`.
    let f: &mut dyn FnMut() -> flopsbench::Result<()> = black_box(&mut empty);
    c.bench_function(
        "sampler: one iteration of an empty closure through dyn FnMut",
        |b| b.iter(|| black_box(f()).ok()),
    );
}

fn statistics(c: &mut Criterion) {
    let samples: Vec<f64> = (0..200)
        .map(|i| 5.0 + ((i * 7919) % 101) as f64 * 1e-3)
        .collect();
    c.bench_function(
        "stats: summarize 200 samples (2000 bootstrap resamples)",
        |b| b.iter(|| summarize(black_box(&samples), 0)),
    );
}

fn f64_reference(c: &mut Criterion) {
    use flopsbench::model::Model;
    use flopsbench::reference::run_op_stack;
    use flopsbench::spec::{OpCase, OpKind, Shape};
    let mut group = c.benchmark_group("reference: f64 direct convolution, Table 1's stacks");
    group.sample_size(10);
    // The widest and the narrowest feature map of Table 1, ten 3x3 layers each.
    for shape in [Shape::new(96, 56, 56), Shape::new(768, 7, 7)] {
        let net = OpCase::paper(OpKind::Conv, shape).to_net().unwrap();
        let model = Model::new(&net, 1, 7, true);
        group.bench_function(
            format!("conv {}x{}x{} x10", shape.c, shape.h, shape.w),
            |b| b.iter(|| run_op_stack(black_box(&model)).unwrap()),
        );
    }
    group.finish();
}

criterion_group!(benches, sampling_loop_overhead, statistics, f64_reference);
criterion_main!(benches);
