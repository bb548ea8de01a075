//! How fast analytic counting is: building and counting the whole zoo, and the 16
//! Table-1 operator cases. (Timing goals live here, never in unit tests.)

use criterion::{Criterion, criterion_group, criterion_main};
use flopsbench::count::{CountOptions, count_op, count_zoo};
use flopsbench::spec::{OpKind, OpSweep};
use flopsbench::zoo;
use std::hint::black_box;

fn zoo_counts(c: &mut Criterion) {
    let opts = CountOptions::default();
    c.bench_function("count the 11 zoo networks (build + fuse + count)", |b| {
        b.iter(|| {
            for name in zoo::NAMES {
                black_box(count_zoo(black_box(name), 224, &opts, true).unwrap());
            }
        })
    });
}

fn table1_counts(c: &mut Criterion) {
    let opts = CountOptions::default();
    let cases = OpSweep {
        kinds: vec![OpKind::Conv, OpKind::Gconv, OpKind::Dwconv, OpKind::Pconv],
        ..OpSweep::default()
    }
    .expand()
    .unwrap();
    c.bench_function("count the 16 Table-1 cases", |b| {
        b.iter(|| {
            for case in &cases {
                black_box(count_op(black_box(case), &opts, false).unwrap());
            }
        })
    });
}

criterion_group!(benches, zoo_counts, table1_counts);
criterion_main!(benches);
