//! The text after each command's help: its examples, and the page of docs/ to read on
//! (a path in the repository).

/// After `count --help`.
pub(super) const COUNT: &str = concat!(
    "Examples:\n  flopsbench count fasternet-t0 --per-layer\n  \
        flopsbench count all --format csv\n  \
        flopsbench count my-model.onnx --input-shape pixel_values=1x3x256x256\n  \
        flopsbench count --kind conv,gconv,dwconv,pconv\n  \
        flopsbench count --kind pconv --ratio 1/16,1/4,1 --shape 96x56x56 --format json",
    "\n\nMore: docs/counting.md"
);

/// After `op --help`.
pub(super) const OP: &str = concat!(
    "Examples:\n  flopsbench op --kind pconv --ratio 0.25\n  \
        flopsbench op --kind dwconv --shape 192x28x28 --layers 10 --backend all\n  \
        flopsbench op --kind conv,gconv,dwconv,pconv --min-time 1s",
    "\n\nMore: docs/measuring.md"
);

/// After `net --help`.
pub(super) const NET: &str = concat!(
    "Examples:\n  flopsbench net fasternet-t0\n  flopsbench net fasternet-s,resnet50 --backend tract\n  \
        flopsbench net my-model.onnx --input-shape input=1x3x224x224",
    "\n\nMore: docs/measuring.md, docs/model-files.md"
);

/// After `suite --help`.
pub(super) const SUITE: &str = concat!(
    "Examples:\n  flopsbench suite operators/paper-table1.toml\n  \
        flopsbench suite operators/ratio-sweep.toml --backend tract,ort\n  \
        flopsbench suite operators/paper-table3.toml --resume reports/20261126T0400Z-vm",
    "\n\nMore: docs/suites.md"
);

/// After `paper --help`.
pub(super) const PAPER: &str = concat!(
    "Examples:\n  flopsbench paper\n  flopsbench paper --quick --backend tract\n  \
        flopsbench paper --device cpu,gpu --out reports/study",
    "\n\nMore: docs/reports.md"
);

/// After `peak --help`.
pub(super) const PEAK: &str = concat!(
    "Examples:\n  flopsbench peak\n  flopsbench peak --backend tract,ort --min-time 1s",
    "\n\nMore: docs/measuring.md"
);

/// After `report --help`.
pub(super) const REPORT: &str = concat!(
    "Examples:\n  flopsbench report reports/2026* -o reports/merged\n  \
        flopsbench report run-a/ run-b/results.csv -o out --format md,svg",
    "\n\nMore: docs/reports.md"
);

/// After `predict --help`.
pub(super) const PREDICT: &str = concat!(
    "Examples:\n  flopsbench net all --backend tract --per-layer --out runs/nets\n  \
        flopsbench peak --backend tract --out runs/peak\n  \
        flopsbench predict --from runs/nets,runs/peak\n  \
        flopsbench predict --from runs/nets,runs/peak fasternet-s --resolution 256",
    "\n\nMore: docs/predict.md"
);

/// After `export --help`.
pub(super) const EXPORT: &str = concat!(
    "Examples:\n  flopsbench export fasternet-t0 -o t0.onnx\n  \
        flopsbench export --kind pconv --shape 96x56x56 -o pconv.onnx",
    "\n\nMore: docs/export.md"
);

/// After `flopsbench --help`.
pub(super) const TOP: &str = "Start with README.md; each command has its page in docs/ \
    (`flopsbench COMMAND --help` ends with it)";

/// After `list --help`.
pub(super) const LIST: &str = "More: docs/backends.md, docs/devices.md";

/// `export --shape`: one case, so one shape, and no default.
pub(super) const EXPORT_SHAPE: &str =
    "Input shape CxHxW of the one operator case (required with --kind: export writes one case)";

/// `export --ratio`: one value.
pub(super) const EXPORT_RATIO: &str =
    "PConv partial ratio r in (0, 1]: `0.25` or `1/4` [default: 1/4]";

/// After `compare --help`.
pub(super) const COMPARE: &str = concat!(
    "Examples:\n  flopsbench compare runs/before runs/after\n  \
        flopsbench compare runs/before runs/after --fail-on-regression 10\n  \
        flopsbench compare runs/nets runs/nets --across backend=tract,ort\n  \
        flopsbench compare model-a.onnx model-b.onnx --backend tract --per-layer",
    "\n\nExit status: 0, or 1 when a case failed or a row regressed beyond \
        --fail-on-regression; 2 on bad input.\n\nMore: docs/compare.md"
);
