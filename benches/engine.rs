//! The measurement engine's own cost: the sampling loop around an empty closure (what
//! `calibrate_overhead` records per run) and the statistics of a run's samples.

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

criterion_group!(benches, sampling_loop_overhead, statistics);
criterion_main!(benches);
