//! How fast analytic counting is: building and counting the whole zoo, the 16 Table-1
//! operator cases, and a model file (ResNet-50 exported, about 100 MB: goal well under a
//! second). (Timing goals live here, never in unit tests.)

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

fn model_file_count(c: &mut Criterion) {
    use flopsbench::export::{ExportConfig, export};
    use flopsbench::import::{Keep, count, import};
    use flopsbench::target::CountTarget;

    let dir = std::env::temp_dir().join(format!("flopsbench-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("resnet50.onnx");
    export(&ExportConfig {
        target: CountTarget::Nets(vec!["resnet50".into()]),
        resolution: 224,
        batch: 1,
        seed: 0,
        fuse_bn: true,
        output: file.clone(),
        dtype: flopsbench::spec::Dtype::F32,
        pconv_as: None,
    })
    .unwrap();
    let opts = CountOptions::default();
    let mut group = c.benchmark_group("model file");
    group.sample_size(10);
    group.bench_function(
        "count resnet50.onnx (102 MB: read, infer shapes, map, count)",
        |b| {
            b.iter(|| {
                let model = import(black_box(&file), &[], 1, Keep::Shapes).unwrap();
                black_box(count(&model, &opts, false))
            })
        },
    );
    group.finish();
    std::fs::remove_dir_all(&dir).unwrap();
}

criterion_group!(benches, zoo_counts, table1_counts, model_file_count);
criterion_main!(benches);
