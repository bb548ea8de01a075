//! Property tests of the counting (proptest, fixed seed so CI is reproducible).

use flopsbench::count::{Convention, CountOptions, count_net, count_op, layer_costs, total};
use flopsbench::spec::{OpCase, OpKind, Ratio, Shape};
use flopsbench::zoo;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config() -> Config {
    Config {
        cases: 200,
        rng_seed: RngSeed::Fixed(0x0F10_95BE),
        failure_persistence: None,
        ..Config::default()
    }
}

fn case(kind: OpKind, c: usize, h: usize, w: usize, k: usize, layers: usize) -> OpCase {
    let mut case = OpCase::paper(kind, Shape::new(c, h, w));
    case.kernel = k;
    case.padding = k / 2;
    case.layers = layers;
    if kind == OpKind::Gconv {
        case.groups = 4;
    }
    if kind == OpKind::Dwconv {
        case.groups = c;
    }
    case
}

fn macs(case: &OpCase) -> u64 {
    count_op(case, &CountOptions::default(), false)
        .unwrap()
        .macs
}

fn any_kind() -> impl Strategy<Value = OpKind> {
    prop::sample::select(vec![
        OpKind::Conv,
        OpKind::Gconv,
        OpKind::Dwconv,
        OpKind::Pconv,
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn totals_are_the_sum_of_layers(
        kind in any_kind(), c4 in 1usize..24, h in 3usize..20, w in 3usize..20,
        layers in 1usize..5, fuse in any::<bool>(), strict in any::<bool>(), batch in 1usize..4,
    ) {
        let opts = CountOptions {
            batch,
            fuse_bn: fuse,
            convention: if strict { Convention::Strict } else { Convention::Paper },
            ..CountOptions::default()
        };
        let counted = count_op(&case(kind, 4 * c4, h, w, 3, layers), &opts, true).unwrap();
        let rows = counted.layers.clone().unwrap();
        prop_assert_eq!(counted.macs, rows.iter().map(|l| l.macs).sum::<u64>());
        prop_assert_eq!(counted.flops, rows.iter().map(|l| l.flops).sum::<u64>());
        prop_assert_eq!(counted.params, rows.iter().map(|l| l.params).sum::<u64>());
        prop_assert_eq!(counted.mem_bytes, rows.iter().map(|l| l.mem_bytes).sum::<u64>());
    }

    #[test]
    fn zoo_totals_are_the_sum_of_layers(index in 0usize..11, res in 32usize..256) {
        let net = zoo::build(zoo::NAMES[index], res).unwrap();
        for fuse in [true, false] {
            let opts = CountOptions { fuse_bn: fuse, ..CountOptions::default() };
            let counted = count_net(&net, &opts, true);
            let rows = counted.layers.unwrap();
            prop_assert_eq!(counted.macs, rows.iter().map(|l| l.macs).sum::<u64>());
            prop_assert_eq!(counted.params, rows.iter().map(|l| l.params).sum::<u64>());
            prop_assert_eq!(counted.mem_bytes, rows.iter().map(|l| l.mem_bytes).sum::<u64>());
        }
        let sum = total(&layer_costs(&net));
        prop_assert_eq!(sum.params, count_net(&net, &CountOptions::default(), false).params);
    }

    #[test]
    fn macs_are_monotone_in_every_dimension(
        kind in any_kind(), c4 in 1usize..16, h in 5usize..16, w in 5usize..16,
        k in prop::sample::select(vec![1usize, 3, 5]), layers in 1usize..4, which in 0usize..5,
    ) {
        let c = 4 * c4;
        let base = case(kind, c, h, w, k, layers);
        let bigger = match which {
            0 => case(kind, c + 4, h, w, k, layers),
            1 => case(kind, c, h + 1, w, k, layers),
            2 => case(kind, c, h, w + 1, k, layers),
            3 => case(kind, c, h, w, k + 2, layers),
            _ => case(kind, c, h, w, k, layers + 1),
        };
        prop_assert!(macs(&bigger) >= macs(&base), "{} < {}", bigger.id(), base.id());
    }

    #[test]
    fn pointwise_conv_is_a_matmul(c_in in 1usize..128, c_out in 1usize..128, h in 1usize..32, w in 1usize..32) {
        let mut pw = OpCase::paper(OpKind::Pwconv, Shape::new(c_in, h, w));
        pw.c_out = c_out;
        pw.layers = 1;
        // [h·w × c_in] · [c_in × c_out]
        prop_assert_eq!(macs(&pw), (h * w * c_in * c_out) as u64);
    }

    #[test]
    fn pconv_with_r_one_is_conv(c in 1usize..64, h in 3usize..24, w in 3usize..24, layers in 1usize..4) {
        let mut p = case(OpKind::Pconv, c, h, w, 3, layers);
        p.ratio = Some(Ratio::ONE);
        let conv = case(OpKind::Conv, c, h, w, 3, layers);
        let opts = CountOptions::default();
        let (a, b) = (count_op(&p, &opts, false).unwrap(), count_op(&conv, &opts, false).unwrap());
        prop_assert_eq!(a.macs, b.macs);
        prop_assert_eq!(a.params, b.params);
        prop_assert_eq!(a.mem_elements, b.mem_elements);
    }

    #[test]
    fn gconv_with_groups_c_is_dwconv(c in 1usize..64, h in 3usize..24, w in 3usize..24, layers in 1usize..4) {
        let mut g = case(OpKind::Gconv, c, h, w, 3, layers);
        g.groups = c;
        let dw = case(OpKind::Dwconv, c, h, w, 3, layers);
        let opts = CountOptions::default();
        let (a, b) = (count_op(&g, &opts, false).unwrap(), count_op(&dw, &opts, false).unwrap());
        prop_assert_eq!(a.macs, b.macs);
        prop_assert_eq!(a.params, b.params);
        prop_assert_eq!(a.mem_elements, b.mem_elements);
    }
}
