//! `flopsbench count` and `list` through the real binary: every format parses and carries
//! the contract's fields.

use serde_json::Value;

mod common;

fn run(args: &[&str]) -> String {
    String::from_utf8(common::flopsbench_ok(args, None).stdout).unwrap()
}

fn json(args: &[&str]) -> Vec<Value> {
    let mut full = args.to_vec();
    full.extend(["--format", "json"]);
    serde_json::from_str::<Value>(&run(&full))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn json_has_the_contract_fields_for_nets() {
    let cases = json(&["count", "fasternet-t0", "--per-layer"]);
    assert_eq!(cases.len(), 1);
    let t0 = &cases[0];
    for field in [
        "name",
        "params",
        "macs",
        "flops",
        "mem_bytes",
        "dtype",
        "batch",
        "resolution",
        "convention",
    ] {
        assert!(t0.get(field).is_some(), "missing {field}");
    }
    assert_eq!(t0["name"], "fasternet-t0");
    assert_eq!(t0["params"], 3_905_500);
    assert_eq!(t0["macs"], 335_422_720);
    assert_eq!(t0["flops"], t0["macs"]);
    assert_eq!(t0["dtype"], "f32");
    assert_eq!(t0["resolution"], 224);
    let layers = t0["layers"].as_array().unwrap();
    for field in ["name", "op", "output_shape", "params", "macs", "mem_bytes"] {
        assert!(layers[0].get(field).is_some(), "layer lacks {field}");
    }
    assert_eq!(layers[0]["name"], "patch_embed.proj");
    assert_eq!(layers[0]["output_shape"], "40x56x56");
    let sum: u64 = layers.iter().map(|l| l["macs"].as_u64().unwrap()).sum();
    assert_eq!(sum, 335_422_720);
}

#[test]
fn json_has_the_same_fields_for_op_cases() {
    let cases = json(&[
        "count", "--kind", "dwconv", "--shape", "96x56x56", "--layers", "10",
    ]);
    assert_eq!(cases.len(), 1);
    let c = &cases[0];
    assert_eq!(c["macs"], 27_095_040);
    assert_eq!(c["kind"], "dwconv");
    assert_eq!(c["depth"], 10);
    for field in [
        "name",
        "params",
        "flops",
        "mem_bytes",
        "dtype",
        "batch",
        "convention",
    ] {
        assert!(c.get(field).is_some(), "missing {field}");
    }
}

#[test]
fn conventions_and_bn_folding_change_what_they_say() {
    let paper = &json(&["count", "resnet50"])[0];
    let strict = &json(&["count", "resnet50", "--convention", "strict"])[0];
    let unfused = &json(&["count", "resnet50", "--no-fuse-bn"])[0];
    let macs = paper["macs"].as_u64().unwrap();
    assert_eq!(macs, 4_089_184_256);
    assert_eq!(strict["macs"], paper["macs"]);
    assert!(
        strict["flops"].as_u64().unwrap() > 2 * macs,
        "strict adds elementwise work"
    );
    assert_eq!(strict["convention"], "strict");
    assert!(
        unfused["macs"].as_u64().unwrap() > macs,
        "unfused BN costs MACs"
    );
    assert_eq!(unfused["fused_bn"], false);
    assert_eq!(unfused["params"], paper["params"]);
}

#[test]
fn batch_and_dtype_scale_memory_not_macs() {
    let one = &json(&["count", "mobilenetv2"])[0];
    let many = &json(&["count", "mobilenetv2", "--batch", "32", "--dtype", "f16"])[0];
    assert_eq!(one["macs"], many["macs"]);
    assert_eq!(many["batch"], 32);
    assert_eq!(many["dtype"], "f16");
    let (e1, e32) = (
        one["mem_elements"].as_u64().unwrap(),
        many["mem_elements"].as_u64().unwrap(),
    );
    assert!(
        e32 > 20 * e1 && e32 < 32 * e1,
        "feature maps scale with batch, weights do not"
    );
    assert_eq!(many["mem_bytes"].as_u64().unwrap(), 2 * e32);
}

#[test]
fn csv_parses_with_one_row_per_case() {
    let text = run(&[
        "count",
        "--kind",
        "conv,gconv,dwconv,pconv",
        "--format",
        "csv",
    ]);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert!(headers.iter().any(|h| h == "macs"));
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 16);
    let macs = headers.iter().position(|h| h == "macs").unwrap();
    assert_eq!(&rows[0][macs], "2601123840");
}

#[test]
fn per_layer_csv_has_one_row_per_layer() {
    let text = run(&[
        "count",
        "--kind",
        "pconv",
        "--shape",
        "64x8x8",
        "--layers",
        "3",
        "--per-layer",
        "--format",
        "csv",
    ]);
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .contains("layer.0,pconv,64x8x8")
    );
}

#[test]
fn tables_and_markdown_show_every_case() {
    let table = run(&["count", "all"]);
    let md = run(&["count", "all", "--format", "md"]);
    for name in flopsbench::zoo::NAMES {
        assert!(table.contains(name), "table lacks {name}");
        assert!(md.contains(&format!("| {name}")), "markdown lacks {name}");
    }
    assert!(md.lines().nth(1).unwrap().starts_with("|--"), "{md}");
    assert!(table.contains("4.089 G"), "resnet50 MACs in human units");
}

#[test]
fn resolution_changes_net_shapes() {
    let r224 = &json(&["count", "resnet18"])[0];
    let r448 = &json(&["count", "resnet18", "--resolution", "448"])[0];
    assert_eq!(r448["params"], r224["params"]);
    let (a, b) = (
        r224["macs"].as_u64().unwrap(),
        r448["macs"].as_u64().unwrap(),
    );
    assert!(b > 3 * a && b < 4 * a + 1, "{a} → {b}");
}

#[test]
fn list_shows_ops_nets_backends_devices() {
    let text = run(&["list"]);
    for word in [
        "pconv",
        "fasternet-l",
        "mobilenetv3-small",
        "Backends",
        "Devices",
        "cpu",
        "3.905 M",
    ] {
        assert!(text.contains(word), "list lacks {word}:\n{text}");
    }
}
