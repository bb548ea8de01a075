//! Every zoo network's params and conv+linear MACs equal the reference PyTorch models
//! (timm `fasternet_*`, torchvision) to the integer, as recorded by
//! `scripts/reference_counts.py` in `tests/fixtures/reference_counts.json`.

use flopsbench::count::{CountOptions, count_net, layer_costs};
use flopsbench::spec::Layer;
use flopsbench::zoo;
use serde_json::Value;

fn fixture() -> Value {
    let text = include_str!("fixtures/reference_counts.json");
    serde_json::from_str(text).expect("fixture is JSON")
}

fn u(v: &Value) -> u64 {
    v.as_u64().expect("an unsigned integer")
}

#[test]
fn fixture_covers_exactly_the_zoo() {
    let f = fixture();
    let mut names: Vec<&str> = f["nets"]
        .as_object()
        .unwrap()
        .keys()
        .map(|s| s.as_str())
        .collect();
    names.sort_unstable();
    let mut zoo_names = zoo::NAMES.to_vec();
    zoo_names.sort_unstable();
    assert_eq!(names, zoo_names);
    assert_eq!(u(&f["resolution"]), 224);
    assert_eq!(u(&f["batch"]), 1);
}

#[test]
fn params_and_macs_equal_the_reference() {
    let f = fixture();
    for name in zoo::NAMES {
        let reference = &f["nets"][name];
        let net = zoo::build(name, 224).unwrap();
        let counts = count_net(&net, &CountOptions::default(), false);
        assert_eq!(counts.params, u(&reference["params"]), "{name} params");
        assert_eq!(
            counts.macs,
            u(&reference["conv_linear_macs"]),
            "{name} conv+linear MACs"
        );
        let by_op = &reference["fvcore"]["by_operator"];
        let fvcore_conv_linear = u(&by_op["conv"]) + u(&by_op["linear"]);
        assert_eq!(counts.macs, fvcore_conv_linear, "{name} vs fvcore");
    }
}

#[test]
fn every_conv_and_linear_layer_matches_in_execution_order() {
    let f = fixture();
    for name in zoo::NAMES {
        let net = zoo::build(name, 224).unwrap();
        let costs = layer_costs(&net);
        let ours: Vec<(String, u64)> = net
            .nodes
            .iter()
            .zip(&costs)
            .filter(|(n, _)| {
                matches!(
                    n.layer,
                    Layer::Conv(_) | Layer::PConv(_) | Layer::Linear { .. }
                )
            })
            .map(|(n, c)| (n.name.clone(), c.macs))
            .collect();
        let theirs: Vec<(String, u64)> = f["nets"][name]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["name"].as_str().unwrap().to_string(), u(&l["macs"])))
            .collect();
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{name}: number of conv/linear layers"
        );
        for (o, t) in ours.iter().zip(&theirs) {
            assert_eq!(o.1, t.1, "{name}: {} vs reference {}", o.0, t.0);
        }
    }
}

#[test]
fn unfused_batchnorm_matches_fvcore_and_the_reference_params() {
    let f = fixture();
    for name in zoo::NAMES {
        let reference = &f["nets"][name];
        let net = zoo::build(name, 224).unwrap();
        let bn: Vec<(u64, u64)> = net
            .nodes
            .iter()
            .zip(layer_costs(&net))
            .filter(|(n, _)| matches!(n.layer, Layer::BatchNorm { .. }))
            .map(|(_, c)| (c.params, c.macs))
            .collect();
        assert_eq!(
            bn.len() as u64,
            u(&reference["bn_layers"]),
            "{name} BN layers"
        );
        let params: u64 = bn.iter().map(|b| b.0).sum();
        assert_eq!(params, u(&reference["bn_params"]), "{name} BN params");
        let macs: u64 = bn.iter().map(|b| b.1).sum();
        // We count inference BN as one multiply-add per element (y = a·x + b); fvcore
        // counts normalisation and affine separately: 2 per element. Same work, stated
        // differently (docs/counting.md, "why counters disagree").
        let bn_out_elements = macs;
        assert_eq!(
            2 * bn_out_elements,
            u(&reference["fvcore"]["by_operator"]["batch_norm"]),
            "{name} BN elements"
        );
        let unfused = count_net(
            &net,
            &CountOptions {
                fuse_bn: false,
                ..Default::default()
            },
            false,
        );
        assert_eq!(
            unfused.macs,
            u(&reference["conv_linear_macs"]) + macs,
            "{name} --no-fuse-bn"
        );
        assert_eq!(
            unfused.params,
            u(&reference["params"]),
            "{name} params do not depend on fusion"
        );
    }
}
