//! One conformance suite over every available backend: the same cases, each backend's
//! output against a reference with a stated tolerance (f32: relative 1e-4). Operator
//! stacks are checked against the plain f64 direct convolution, networks across backends.
//! A backend that cannot run here is skipped with its reason printed.

use flopsbench::backend::{self, Backend, PconvImpl, Settings};
use flopsbench::bench::{F32_TOLERANCE, tolerance};
use flopsbench::device::DeviceSpec;
use flopsbench::model::Model;
use flopsbench::reference::{compare, run_op_stack};
use flopsbench::spec::{Dtype, OpCase, OpKind, Ratio, Shape};
use flopsbench::zoo;

/// The backends that can run on this CPU. In CI (`CI` set) every CPU backend must run:
/// one that cannot (its set-up script failed, or the test command did not build it) is a
/// defect, not a skip.
fn available() -> Vec<&'static dyn Backend> {
    backend::NAMES
        .iter()
        .map(|n| backend::by_name(n).unwrap())
        .filter(|b| match b.probe(&DeviceSpec::Cpu) {
            Ok(()) => true,
            Err(why) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI must run every CPU backend, but {} cannot: {why}",
                    b.name()
                );
                eprintln!("skipping backend {}: {why}", b.name());
                false
            }
        })
        .collect()
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

#[test]
fn every_op_kind_matches_the_f64_reference_on_every_backend() {
    for b in available() {
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

#[test]
fn the_paper_stage_shapes_match_on_one_layer() {
    // The real Table-1 shapes, one layer each (the f64 reference is slow on ten).
    for b in available() {
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

#[test]
fn every_zoo_net_agrees_across_backends() {
    let backends = available();
    assert!(
        backends.len() >= 2,
        "candle and tract are always compiled in"
    );
    for name in zoo::NAMES {
        let net = zoo::build(name, 32).unwrap();
        for fuse in [true, false] {
            let model = Model::new(&net, 2, 3, fuse);
            let outputs: Vec<Vec<f32>> = backends
                .iter()
                .map(|b| output(*b, &model, &settings(PconvImpl::SplitCat)))
                .collect();
            assert_eq!(outputs[0].len(), 2 * 1000, "{name}: batch 2 × 1000 logits");
            let want: Vec<f64> = outputs[0].iter().map(|v| f64::from(*v)).collect();
            for (b, got) in backends.iter().zip(&outputs).skip(1) {
                let (abs, rel) = compare(got, &want).unwrap();
                assert!(
                    rel <= F32_TOLERANCE,
                    "{name} fuse={fuse}: {} vs {}: abs {abs:e} rel {rel:e}",
                    b.name(),
                    backends[0].name()
                );
            }
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

#[test]
fn reduced_precision_stays_within_its_stated_tolerance() {
    // f16/bf16 run where a backend supports them (tch), against the same f64 reference.
    for b in available() {
        for dtype in [Dtype::F16, Dtype::Bf16] {
            if !b.supports(dtype) {
                eprintln!("{} computes in f32 only; no {dtype} check", b.name());
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
