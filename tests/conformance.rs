//! One conformance suite over every registered backend, generated per backend (a failure
//! names its backend): the same cases, each backend's output against a reference with a
//! stated tolerance (f32: relative 1e-4). Operator stacks are checked against the plain f64
//! direct convolution, networks against the backend that checks them in a run. A backend
//! that cannot run here is skipped with its reason printed (a failure in CI).

use flopsbench::backend::{self, Backend, PconvImpl, Settings};
use flopsbench::bench::{F32_TOLERANCE, reference_for, tolerance};
use flopsbench::device::DeviceSpec;
use flopsbench::model::Model;
use flopsbench::reference::{compare, run_op_stack};
use flopsbench::spec::{Dtype, OpCase, OpKind, Ratio, Shape};
use flopsbench::zoo;

/// The backend `name` if it can run on this CPU. In CI (`CI` set) every CPU backend must
/// run: one that cannot (its set-up script failed, or the test command did not build it)
/// is a defect, not a skip.
fn runnable(name: &str) -> Option<&'static dyn Backend> {
    let b = backend::by_name(name).unwrap();
    match b.probe(&DeviceSpec::Cpu) {
        Ok(()) => Some(b),
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run every CPU backend, but {name} cannot: {why}"
            );
            eprintln!("skipping backend {name}: {why}");
            None
        }
    }
}

fn settings(pconv_impl: PconvImpl) -> Settings {
    Settings {
        pconv_impl,
        ..Settings::f32(1)
    }
}

fn output(b: &dyn Backend, model: &Model, s: &Settings) -> Vec<f32> {
    let mut p = b
        .prepare(model, &DeviceSpec::Cpu, s)
        .unwrap_or_else(|e| panic!("{}: {e}", b.name()));
    p.run().unwrap();
    p.sync().unwrap();
    p.output().unwrap()
}

/// Every op kind on odd sizes, stride 2, groups, ratios 1/16..1, batch 2.
fn op_cases() -> Vec<OpCase> {
    let mut cases = Vec::new();
    for (kind, shape) in [
        (OpKind::Conv, Shape::new(7, 9, 11)),
        (OpKind::Pwconv, Shape::new(13, 5, 7)),
        (OpKind::Dwconv, Shape::new(12, 9, 9)),
        (OpKind::Gconv, Shape::new(12, 7, 5)),
    ] {
        for stride in [1, 2] {
            let mut c = OpCase::paper(kind, shape);
            c.stride = stride;
            c.layers = 2;
            if kind == OpKind::Gconv {
                c.groups = 3;
            }
            cases.push(c);
        }
    }
    let mut k5 = OpCase::paper(OpKind::Conv, Shape::new(6, 8, 8));
    k5.kernel = 5;
    k5.padding = 2;
    k5.layers = 3;
    cases.push(k5);
    for r in ["1/16", "1/4", "1/2", "1"] {
        let mut c = OpCase::paper(OpKind::Pconv, Shape::new(32, 9, 7));
        c.ratio = Some(r.parse::<Ratio>().unwrap());
        c.layers = 3;
        cases.push(c);
    }
    cases
}

fn every_op_kind_matches_the_f64_reference(name: &str) {
    if let Some(b) = runnable(name) {
        for case in op_cases() {
            let model = Model::new(&case.to_net().unwrap(), 2, 11, true);
            let want = run_op_stack(&model).unwrap();
            for pconv_impl in [PconvImpl::SplitCat, PconvImpl::Slicing] {
                let got = output(b, &model, &settings(pconv_impl));
                let (abs, rel) = compare(&got, &want).expect("same number of values");
                assert!(
                    rel <= F32_TOLERANCE,
                    "{} {} {pconv_impl}: abs {abs:e} rel {rel:e}",
                    b.name(),
                    case.id()
                );
            }
        }
    }
}

fn the_paper_stage_shapes_match_on_one_layer(name: &str) {
    // The real Table-1 shapes, one layer each (the f64 reference is slow on ten).
    if let Some(b) = runnable(name) {
        for kind in [OpKind::Conv, OpKind::Gconv, OpKind::Dwconv, OpKind::Pconv] {
            let mut case = OpCase::paper(kind, Shape::new(96, 56, 56));
            case.layers = 1;
            let model = Model::new(&case.to_net().unwrap(), 1, 5, true);
            let (_, rel) = compare(
                &output(b, &model, &settings(PconvImpl::SplitCat)),
                &run_op_stack(&model).unwrap(),
            )
            .unwrap();
            assert!(
                rel <= F32_TOLERANCE,
                "{} {}: rel {rel:e}",
                b.name(),
                case.id()
            );
        }
    }
}

/// Every zoo network against the backend that checks this one's networks in a run (the
/// same rule: `bench::reference_for`).
fn every_zoo_net_matches_its_reference_backend(name: &str) {
    let Some(b) = runnable(name) else { return };
    let checker = reference_for(name).unwrap();
    assert!(
        checker.probe(&DeviceSpec::Cpu).is_ok(),
        "the reference {} is always compiled in",
        checker.name()
    );
    for net_name in zoo::NAMES {
        let net = zoo::build(net_name, 32).unwrap();
        for fuse in [true, false] {
            let model = Model::new(&net, 2, 3, fuse);
            let got = output(b, &model, &settings(PconvImpl::SplitCat));
            assert_eq!(got.len(), 2 * 1000, "{net_name}: batch 2 × 1000 logits");
            let want: Vec<f64> = output(checker, &model, &settings(PconvImpl::SplitCat))
                .iter()
                .map(|v| f64::from(*v))
                .collect();
            let (abs, rel) = compare(&got, &want).unwrap();
            assert!(
                rel <= F32_TOLERANCE,
                "{net_name} fuse={fuse}: {name} vs {}: abs {abs:e} rel {rel:e}",
                checker.name()
            );
        }
    }
}

#[test]
fn folding_bn_does_not_change_the_function() {
    let b = backend::by_name("candle").unwrap();
    let net = zoo::build("resnet18", 32).unwrap();
    let fused = output(
        b,
        &Model::new(&net, 1, 9, true),
        &settings(PconvImpl::SplitCat),
    );
    let unfused = output(
        b,
        &Model::new(&net, 1, 9, false),
        &settings(PconvImpl::SplitCat),
    );
    let want: Vec<f64> = unfused.iter().map(|v| f64::from(*v)).collect();
    let (_, rel) = compare(&fused, &want).unwrap();
    assert!(rel <= F32_TOLERANCE, "rel {rel:e}");
}

#[test]
fn a_wrong_output_is_caught_by_the_reference() {
    // The check must be able to fail: perturb one weight of the model the backend runs.
    let case = OpCase::paper(OpKind::Conv, Shape::new(4, 6, 6));
    let model = Model::new(&case.to_net().unwrap(), 1, 1, true);
    let want = run_op_stack(&model).unwrap();
    let mut wrong = model.clone();
    if let flopsbench::model::NodeParams::Conv { weight, .. } = &mut wrong.params[3] {
        weight[0] += 0.5;
    }
    let got = output(
        backend::by_name("tract").unwrap(),
        &wrong,
        &settings(PconvImpl::SplitCat),
    );
    let (_, rel) = compare(&got, &want).unwrap();
    assert!(
        rel > F32_TOLERANCE,
        "a perturbed weight must be detected (rel {rel:e})"
    );
}

fn reduced_precision_stays_within_its_stated_tolerance(name: &str) {
    // f16/bf16 run where a backend supports them (tch), against the same f64 reference.
    if let Some(b) = runnable(name) {
        for dtype in [Dtype::F16, Dtype::Bf16] {
            if let Err(why) = b.supports(dtype) {
                eprintln!("{why}; no {dtype} check");
                continue;
            }
            for kind in [OpKind::Conv, OpKind::Dwconv, OpKind::Pconv] {
                let mut case = OpCase::paper(kind, Shape::new(32, 14, 14));
                case.layers = 4;
                let model = Model::new(&case.to_net().unwrap(), 1, 7, true);
                let s = Settings {
                    dtype,
                    ..Settings::f32(1)
                };
                let (_, rel) = compare(&output(b, &model, &s), &run_op_stack(&model).unwrap())
                    .expect("same number of values");
                eprintln!("{} {dtype} {}: rel {rel:e}", b.name(), case.id());
                assert!(
                    rel <= tolerance(dtype) && rel > F32_TOLERANCE / 100.0,
                    "{} {dtype} {}: rel {rel:e} (a real {dtype} run is inexact but within {:e})",
                    b.name(),
                    case.id(),
                    tolerance(dtype)
                );
            }
        }
    }
}

fn int8_matches_the_quantized_arithmetic(name: &str) {
    // int8 QDQ graphs where a backend runs them (ort as QLinearConv, tract simulated in
    // f32), against the f64 reference of the same quantized arithmetic: one layer within
    // one step of the output's scale, a stack within one step per layer.
    let Some(b) = runnable(name) else { return };
    if let Err(why) = b.supports(Dtype::Int8) {
        eprintln!("{why}; no int8 check");
        return;
    }
    let mut cases = op_cases();
    cases.extend([OpKind::Conv, OpKind::Dwconv, OpKind::Pconv].map(|k| {
        let mut c = OpCase::paper(k, Shape::new(24, 12, 12));
        c.layers = 4;
        c
    }));
    if name == "tch" {
        // tch runs the int8 GEMM of one 1×1 convolution only (peak's), as torch._int_mm.
        cases = [
            Shape::new(64, 8, 8),
            Shape::new(32, 5, 7),
            Shape::new(24, 3, 3),
        ]
        .map(|shape| {
            let mut c = OpCase::paper(OpKind::Pwconv, shape);
            c.layers = 1;
            c
        })
        .to_vec();
    }
    let s = Settings {
        dtype: Dtype::Int8,
        ..Settings::f32(1)
    };
    let mut worst: f64 = 0.0;
    for case in cases {
        let mut model = Model::new(&case.to_net().unwrap(), 2, 5, true);
        let levels = flopsbench::quant::weight_levels_here();
        let quantized = flopsbench::quant::quantize(&model, levels).unwrap();
        let scale = f64::from(quantized.params.layers.last().unwrap().output.scale);
        let steps = flopsbench::quant::tolerance_steps(&quantized.params);
        model.int8 = Some(quantized.params);
        let mut p = b.prepare(&model, &DeviceSpec::Cpu, &s).unwrap();
        p.run().unwrap();
        let got = p.output().unwrap();
        // What computed says so: integers on ort, a float simulation on tract.
        let computed = p.computed();
        let want = if name == "ort" {
            "int8 ("
        } else if name == "tch" {
            "int8 (torch._int_mm"
        } else {
            "(QDQ simulated)"
        };
        assert!(computed.contains(want), "{name} {}: {computed}", case.id());
        let (abs, _) = compare(&got, &quantized.reference).expect("same number of values");
        worst = worst.max(abs / scale);
        assert!(
            abs <= steps * scale * (1.0 + 1e-6),
            "{} int8 {}: {:.3} steps off (at most {steps})",
            b.name(),
            case.id(),
            abs / scale
        );
        // Quantization happened: the f32 model's output differs.
        let (_, vs_f32) = compare(&got, &run_op_stack(&model).unwrap()).unwrap();
        assert!(
            vs_f32 > F32_TOLERANCE,
            "{} int8 {}: {vs_f32:e}",
            b.name(),
            case.id()
        );
    }
    eprintln!("{name} int8: at most {worst:.3} steps from the quantized arithmetic");
}

/// One module per backend, one test per backend × check, so a failure names its backend
/// (after candle's per-device test macro).
macro_rules! conformance {
    ($($backend:ident),* $(,)?) => {
        /// The backends these tests cover.
        const COVERED: &[&str] = &[$(stringify!($backend)),*];
        $(
            mod $backend {
                #[test]
                fn every_op_kind_matches_the_f64_reference() {
                    super::every_op_kind_matches_the_f64_reference(stringify!($backend));
                }
                #[test]
                fn the_paper_stage_shapes_match_on_one_layer() {
                    super::the_paper_stage_shapes_match_on_one_layer(stringify!($backend));
                }
                #[test]
                fn every_zoo_net_matches_its_reference_backend() {
                    super::every_zoo_net_matches_its_reference_backend(stringify!($backend));
                }
                #[test]
                fn int8_matches_the_quantized_arithmetic() {
                    super::int8_matches_the_quantized_arithmetic(stringify!($backend));
                }
                #[test]
                fn reduced_precision_stays_within_its_stated_tolerance() {
                    super::reduced_precision_stays_within_its_stated_tolerance(stringify!(
                        $backend
                    ));
                }
            }
        )*
    };
}

conformance!(candle, tract, ort, tch);

#[test]
fn every_registered_backend_has_its_conformance_tests() {
    assert_eq!(COVERED, backend::names().as_slice());
}
