//! Suite files: the shipped suites parse to the cases they promise, the embedded copies
//! equal the files, and a property test (fixed seed) of the parser and the sweep
//! expansion: the cross product's size, unique ids that encode every parameter, and no
//! panic on arbitrary text.

use std::path::Path;

use flopsbench::suite::{self, EMBEDDED};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

#[test]
fn shipped_suites_expand_to_their_cases() {
    let expected = [
        ("paper-table1", 16),
        ("paper-table3", 11),
        ("ratio-sweep", 14),
        ("batch-sweep", 18),
        ("threads-sweep", 15),
        ("kernel-sweep", 9),
    ];
    for (name, n) in expected {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("operators/{name}.toml"));
        let from_file = suite::load(&path).unwrap();
        assert_eq!(from_file.cases.len(), n, "{name}");
        let embedded = suite::embedded(name).unwrap();
        let ids = |s: &suite::Suite| s.cases.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(&from_file),
            ids(&embedded),
            "{name}: embedded copy differs"
        );
        assert!(
            from_file.sampler.min_time.is_some(),
            "{name} states its sampling time"
        );
    }
    assert_eq!(EMBEDDED.len(), expected.len());
    let t1 = suite::embedded("paper-table1").unwrap();
    assert!(
        t1.cases
            .iter()
            .any(|c| c.id == "pconv-96x56x56-k3-r1_4-l10")
    );
    assert!(t1.cases.iter().any(|c| c.id == "gconv-768x7x7-k3-g16-l10"));
}

fn runner() -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases: 96,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

#[test]
fn sweeps_expand_to_the_cross_product_with_unique_ids() {
    let kinds = prop::sample::subsequence(vec!["conv", "gconv", "dwconv", "pconv"], 1..=4);
    let shapes = prop::collection::btree_set((1usize..5, 3usize..9), 1..4);
    let ratios = prop::collection::btree_set(1u32..=4, 1..4);
    let kernels = prop::collection::btree_set(prop::sample::select(vec![1usize, 3, 5]), 1..3);
    let batches = prop::collection::btree_set(1usize..4, 1..3);
    runner()
        .run(
            &(kinds, shapes, ratios, kernels, batches),
            |(kinds, shapes, ratios, kernels, batches)| {
                let shape_list: Vec<String> = shapes
                    .iter()
                    .map(|(c, h)| format!("\"{}x{h}x{h}\"", c * 16))
                    .collect();
                let ratio_list: Vec<String> =
                    ratios.iter().map(|d| format!("\"1/{}\"", 1 << d)).collect();
                let text = format!(
                    "name = \"p\"\n[[ops]]\nkind = [{}]\nshape = [{}]\nratio = [{}]\nkernel = [{}]\nbatch = [{}]\nlayers = 2\n",
                    kinds.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", "),
                    shape_list.join(", "),
                    ratio_list.join(", "),
                    kernels.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "),
                    batches.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", "),
                );
                let parsed = suite::parse(Path::new("p.toml"), &text);
                // Kernels larger than a map are refused with the file and line; otherwise
                // the product of the lists, each pconv case once per ratio.
                let Ok(s) = parsed else {
                    let e = parsed.unwrap_err().to_string();
                    prop_assert!(e.starts_with("p.toml:"), "{e}");
                    return Ok(());
                };
                let per_kind: usize = kinds
                    .iter()
                    .map(|k| if *k == "pconv" { ratios.len() } else { 1 })
                    .sum();
                let expected = per_kind * shapes.len() * kernels.len() * batches.len();
                prop_assert_eq!(s.cases.len(), expected);
                let mut ids: Vec<&str> = s.cases.iter().map(|c| c.id.as_str()).collect();
                ids.sort();
                ids.dedup();
                prop_assert_eq!(ids.len(), expected, "ids are unique");
                for c in &s.cases {
                    let batch = format!("-b{}", c.batch.unwrap());
                    prop_assert!(c.id.contains(&batch), "{} lacks {}", c.id, batch);
                    let op = c.op.unwrap();
                    let kernel = format!("-k{}", op.kernel);
                    prop_assert!(c.id.contains(&kernel), "{} lacks {}", c.id, kernel);
                    prop_assert!(c.id.starts_with(op.kind.as_str()));
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn arbitrary_text_never_panics_and_errors_name_the_file() {
    let text = prop::collection::vec(
        prop::sample::select(vec![
            "name = \"x\"\n",
            "[[ops]]\n",
            "[[nets]]\n",
            "[measure]\n",
            "kind = \"conv\"\n",
            "kind = [\"pconv\", 3]\n",
            "shape = \"8x8x8\"\n",
            "ratio = [0.5, \"1/0\"]\n",
            "name = \"all\"\n",
            "batch = [0]\n",
            "min_time = \"1s\"\n",
            "layers = -1\n",
            "= broken\n",
            "\"\n",
        ]),
        0..12,
    );
    runner()
        .run(&text, |lines| {
            let text: String = lines.concat();
            if let Err(e) = suite::parse(Path::new("fuzz.toml"), &text) {
                prop_assert!(e.to_string().starts_with("fuzz.toml"), "{e}");
                prop_assert_eq!(e.exit_code(), 2);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_suite_may_flush_the_caches_before_every_timed_call() {
    let text = "name = \"cold\"\n[measure]\nl2_flush = true\n[[ops]]\nkind = \"dwconv\"\nshape = \"8x8x8\"\n";
    let s = suite::parse(Path::new("cold.toml"), text).unwrap();
    assert_eq!(s.sampler.l2_flush, Some(true));
    assert!(s.sampler.resolve().l2_flush);
    let warm = suite::parse(
        Path::new("warm.toml"),
        &text.replace("l2_flush = true\n", ""),
    )
    .unwrap();
    assert!(!warm.sampler.resolve().l2_flush);
}
