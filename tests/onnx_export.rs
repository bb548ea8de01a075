//! The ONNX writer: graphs are well-formed (unique names, every input defined before use)
//! for every zoo network and operator kind.

use std::collections::HashSet;

use flopsbench::model::Model;
use flopsbench::onnx;
use flopsbench::spec::{OpCase, OpKind, PAPER_SHAPES};
use flopsbench::zoo;

fn check(model: &Model) {
    let proto = onnx::to_proto(model);
    let graph = proto.graph.unwrap();
    assert_eq!(proto.opset_import[0].version, onnx::OPSET);
    let mut names = HashSet::new();
    let mut defined: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    for init in &graph.initializer {
        assert!(
            names.insert(init.name.clone()),
            "{}: duplicate initializer {}",
            model.net.name,
            init.name
        );
    }
    defined.insert(onnx::INPUT_NAME.into());
    for node in &graph.node {
        assert!(
            names.insert(node.name.clone()),
            "{}: duplicate node name {}",
            model.net.name,
            node.name
        );
        for i in &node.input {
            assert!(
                defined.contains(i),
                "{}: {} reads {i} before it is defined",
                model.net.name,
                node.name
            );
        }
        defined.extend(node.output.iter().cloned());
    }
    assert!(
        defined.contains(onnx::OUTPUT_NAME),
        "{}: no output",
        model.net.name
    );
}

#[test]
fn every_zoo_net_exports_a_well_formed_graph() {
    for name in zoo::NAMES {
        let net = zoo::build(name, 64).unwrap();
        check(&Model::new(&net, 1, 0, true));
        check(&Model::new(&net, 1, 0, false));
    }
}

#[test]
fn every_op_kind_exports_a_well_formed_graph() {
    for kind in OpKind::ALL {
        let case = OpCase::paper(kind, PAPER_SHAPES[3]);
        check(&Model::new(&case.to_net().unwrap(), 1, 0, true));
    }
}
