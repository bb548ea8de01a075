//! The measuring pipeline on the pure-Rust backends, on whatever CPU runs the tests: the
//! aarch64 build runs these under qemu (scripts/test), so candle's and tract's ARM kernels
//! are checked against the f64 reference too.

use super::*;
use crate::measure::SamplerConfig;
use crate::spec::OpSweep;
use crate::target::Target;

/// Hears every event, in order.
#[derive(Default)]
struct Events(Vec<String>);

impl Reporter for Events {
    fn begin(&mut self, total: usize) {
        self.0.push(format!("begin {total}"));
    }
    fn finished(&mut self, index: usize, total: usize, record: &Record) {
        self.0.push(format!(
            "{index}/{total} {} {}",
            record.case, record.backend
        ));
    }
    fn done(&mut self) {
        self.0.push("done".into());
    }
}

/// Keeps rows in memory, with when each was written.
#[derive(Default)]
struct Rows(
    Vec<(
        Record,
        Option<crate::record::OutputDigest>,
        std::time::Instant,
    )>,
);

impl Sink for Rows {
    fn append(
        &mut self,
        record: &Record,
        _samples_ms: &[f64],
        output: Option<&crate::record::OutputDigest>,
    ) -> Result<()> {
        self.0
            .push((record.clone(), output.cloned(), std::time::Instant::now()));
        Ok(())
    }

    fn append_layers(&mut self, _rows: &[crate::profile::LayerSamples]) -> Result<()> {
        Ok(())
    }
}

fn config(target: Target) -> Experiment {
    Experiment {
        backends: "candle,tract".parse().unwrap(),
        sampler: SamplerConfig {
            warmup: std::time::Duration::ZERO,
            min_time: std::time::Duration::ZERO,
            max_time: std::time::Duration::from_secs(5),
            runs: Some(2),
            ..SamplerConfig::default()
        },
        seed: 7,
        ..Experiment::new(target)
    }
}

/// A run with nothing kept from an earlier session.
fn fresh_run() -> RunContext {
    RunContext {
        run_id: "test".into(),
        overhead_ns: 0.0,
        done: Vec::new(),
        profiled: Vec::new(),
    }
}

#[test]
fn candle_and_tract_match_the_f64_reference_on_every_operator_kind() {
    let sweep = OpSweep {
        kinds: crate::spec::OpKind::ALL.to_vec(),
        shapes: vec![crate::spec::Shape::new(32, 12, 12)],
        groups: vec![8],
        layers: Some(2),
        ..OpSweep::default()
    };
    let config = config(Target::Ops(sweep));
    let cases = config.target.cases(config.resolution).unwrap();
    let plan = plan(&config, &[DeviceSpec::Cpu], &mut std::io::sink()).unwrap();
    assert_eq!(plan[0].1.len(), 2, "candle and tract are built in");
    let context = fresh_run();
    let mut rows = Rows::default();
    let mut events = Events::default();
    let records = measure_cases(&config, &cases, &plan, &context, &mut rows, &mut events).unwrap();
    assert_eq!(records.len(), cases.len() * 2);
    let total = records.len();
    assert_eq!(events.0.len(), total + 2);
    assert_eq!(events.0[0], format!("begin {total}"));
    assert_eq!(events.0[total + 1], "done");
    // Rows are reported as they finish (in rounds, in the order they stopped): indexes
    // 1..=total in turn, each (case, backend) once.
    let mut reported: Vec<String> = (1..=total)
        .map(|i| {
            let line = &events.0[i];
            let rest = line
                .strip_prefix(&format!("{i}/{total} "))
                .unwrap_or_else(|| panic!("{line}"));
            rest.to_string()
        })
        .collect();
    let mut want: Vec<String> = records
        .iter()
        .map(|r| format!("{} {}", r.case, r.backend))
        .collect();
    reported.sort();
    want.sort();
    assert_eq!(reported, want);
    for (r, digest, _) in &rows.0 {
        assert_eq!(
            r.status,
            Status::Ok,
            "{} on {}: {}",
            r.case,
            r.backend,
            r.error
        );
        assert_eq!(r.arch, std::env::consts::ARCH);
        assert!(r.max_abs_err.unwrap() < 1e-3, "{} {}", r.case, r.backend);
        assert!(r.median_ms.unwrap() > 0.0);
        let digest = digest.as_ref().expect("ok rows carry their output digest");
        assert_eq!(digest.len, 32 * 12 * 12, "{}", r.case);
        assert!(digest.sum_abs > 0.0);
    }
    // Both backends computed the same outputs, case by case.
    for case in &cases {
        let digests: Vec<_> = rows
            .0
            .iter()
            .filter(|(r, _, _)| r.case == case.id)
            .map(|(_, d, _)| d.as_ref().unwrap())
            .collect();
        assert_eq!(digests.len(), 2, "{}", case.id);
        assert!(
            digests[0].relative_difference(digests[1]) < F32_TOLERANCE,
            "{}",
            case.id
        );
    }
}

#[test]
fn a_networks_first_output_is_the_reference_of_the_backend_it_checks() {
    let mut experiment = config(Target::Nets(vec!["fasternet-t0".into()]));
    experiment.resolution = 64;
    let case = &experiment.target.cases(64).unwrap()[0];
    let work = Work::new(case, &experiment.count_options(1), 7).unwrap();
    let (candle, tract) = (
        crate::backend::by_name("candle").unwrap(),
        crate::backend::by_name("tract").unwrap(),
    );
    let settings = crate::backend::Settings::f32(1);
    let mut cache = ReferenceCache::new();
    let cold =
        check::prepare_cold(case, &work, candle, &DeviceSpec::Cpu, &settings, &mut cache).unwrap();
    // candle's first output is what a candle reference run would give: kept for tract.
    let key = (case.id.clone(), "candle".to_string());
    assert_eq!(cache.len(), 1);
    assert_eq!(cache[&key].len(), 1000);
    // tract is checked against it, not against a run of its own: a kept output made
    // wrong makes tract's check fail.
    let check_tract = |cache: &mut ReferenceCache| {
        let mut scratch = Scratch {
            references: cache,
            max_abs_err: None,
        };
        check::prepare_checked(
            case,
            &work,
            tract,
            &DeviceSpec::Cpu,
            &settings,
            &mut scratch,
        )
        .map(|_| ())
    };
    assert_eq!(check_tract(&mut cache).map_err(|e| e.to_string()), Ok(()));
    for v in cache.get_mut(&key).unwrap() {
        *v *= 2.0;
    }
    let wrong = check_tract(&mut cache);
    assert!(
        matches!(wrong, Err(crate::error::Error::Mismatch { ref reference, .. }) if reference == "candle"),
        "{:?}",
        wrong.map_err(|e| e.to_string())
    );
    let mut scratch = Scratch {
        references: &mut cache,
        max_abs_err: None,
    };
    // Kept only where a reference run would give the same: f32, on the host CPU.
    let f16 = crate::backend::Settings {
        dtype: crate::spec::Dtype::F16,
        ..settings
    };
    assert!(check::kept_as_reference(case, &DeviceSpec::Cpu, &settings));
    assert!(!check::kept_as_reference(case, &DeviceSpec::Cpu, &f16));
    assert!(!check::kept_as_reference(
        case,
        &DeviceSpec::Cuda(0),
        &settings
    ));
    // candle, checked against tract's (kept) first output.
    check::check(cold, case, &work, "candle", &settings, &mut scratch).unwrap();
    // An operator stack's reference is the f64 convolution: no backend output is kept.
    let sweep = OpSweep {
        kinds: vec![crate::spec::OpKind::Conv],
        shapes: vec![crate::spec::Shape::new(8, 8, 8)],
        layers: Some(1),
        ..OpSweep::default()
    };
    let op = &config(Target::Ops(sweep)).target.cases(224).unwrap()[0];
    let op_work = Work::new(op, &experiment.count_options(1), 7).unwrap();
    let mut cache = ReferenceCache::new();
    check::prepare_cold(
        op,
        &op_work,
        candle,
        &DeviceSpec::Cpu,
        &settings,
        &mut cache,
    )
    .unwrap();
    assert!(cache.is_empty());
}

#[test]
fn a_row_of_a_round_group_is_written_as_soon_as_it_stops() {
    // Conv and DWConv of one feature map share their rounds, each stopping once it has
    // 10 samples and 0.3 s of its own sampling. Conv's samples are one call of tens of
    // ms; DWConv's are calls summed to about 10 ms, so it needs more rounds and samples on
    // alone after Conv stopped.
    let sweep = OpSweep {
        kinds: vec![crate::spec::OpKind::Conv, crate::spec::OpKind::Dwconv],
        shapes: vec![crate::spec::Shape::new(128, 28, 28)],
        layers: Some(10),
        ..OpSweep::default()
    };
    let mut config = config(Target::Ops(sweep));
    config.backends = "tract".parse().unwrap();
    config.sampler.runs = None;
    config.sampler.min_time = std::time::Duration::from_millis(300);
    let cases = config.target.cases(config.resolution).unwrap();
    let plan = plan(&config, &[DeviceSpec::Cpu], &mut std::io::sink()).unwrap();
    let context = fresh_run();
    let mut written = Rows::default();
    let records = measure_cases(
        &config,
        &cases,
        &plan,
        &context,
        &mut written,
        &mut Events::default(),
    )
    .unwrap();
    assert!(
        records
            .iter()
            .all(|r| r.status == Status::Ok && r.interleaved)
    );
    assert_eq!(records[0].timestamp, records[1].timestamp, "one group");
    let [(first, _, at_first), (second, _, at_second)] = &written.0[..] else {
        panic!("two rows: {}", written.0.len());
    };
    let conv = records
        .iter()
        .find(|r| r.case.starts_with("conv-"))
        .unwrap();
    let dw = records
        .iter()
        .find(|r| r.case.starts_with("dwconv-"))
        .unwrap();
    let said = |r: &Record| {
        format!(
            "{}: {:?} samples of {:?} calls",
            r.case, r.samples, r.iters_per_sample
        )
    };
    assert!(
        first.case.starts_with("conv-") && second.case.starts_with("dwconv-"),
        "{} / {}",
        said(conv),
        said(dw)
    );
    assert!(
        dw.samples.unwrap() > conv.samples.unwrap() + 3,
        "DWConv sampled on alone: {:?} vs {:?}",
        dw.samples,
        conv.samples
    );
    assert!(
        *at_second - *at_first >= std::time::Duration::from_millis(50),
        "Conv was written when it stopped, not with the group: {:?} apart ({:?} vs {:?} samples)",
        *at_second - *at_first,
        dw.samples,
        conv.samples
    );
}
