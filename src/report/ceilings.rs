//! The device's roofs and where each row sits under them: the ceilings table (every
//! figure `peak` measured, with its level and method, and the theoretical peak that
//! frames the compute roof) and the bounds table (each row's working set, level, bound,
//! fraction of that roof and what it means), which flags any row above its roof.

use super::load::Loaded;
use super::roofline::{intensity, peaks_of};
use super::tables::{Table, f};
use super::{Column, usable};
use crate::record::{Record, Status};
use crate::roofs::{Bound, Ceilings, Figure, cache::bytes_text};
use crate::spec::CaseKind;

/// Every ceiling `peak` measured, one line per figure.
pub fn table(loaded: &Loaded, include_emulated: bool) -> Option<Table> {
    let rows = usable(&loaded.records, include_emulated);
    let mut peaks: Vec<&Record> = rows
        .iter()
        .copied()
        .filter(|r| r.kind == CaseKind::Peak && r.status == Status::Ok)
        .collect();
    if peaks.is_empty() {
        return None;
    }
    let order = |r: &Record| {
        let level = match r.name.as_str() {
            "fma" | "gemm" => 0,
            "stream" => 9,
            n => n.trim_start_matches("bw-L").parse::<usize>().unwrap_or(8),
        };
        (
            Column::device_of(r),
            r.threads,
            r.dtype,
            level,
            r.backend.clone(),
        )
    };
    peaks.sort_by_cached_key(|r| order(r));
    let mut out_rows: Vec<Vec<String>> = peaks
        .iter()
        .filter_map(|r| Figure::of(r).map(|fig| (r, fig)))
        .map(|(r, fig)| {
            let what = if fig.figure == "compute" {
                format!("compute {}", fig.dtype)
            } else {
                fig.figure.clone()
            };
            vec![
                Column::device_of(r).to_string(),
                fig.threads.to_string(),
                what,
                fig.level,
                format!("{} {}", f(fig.value, 1), fig.unit),
                fig.method,
            ]
        })
        .collect();
    let measured: Vec<(String, crate::spec::Dtype)> =
        peaks.iter().map(|r| (r.host.clone(), r.dtype)).collect();
    let mut seen = Vec::new();
    for m in loaded.runs.values().filter(|m| !m.emulated) {
        for t in &m.theoretical_peaks {
            let key = (m.host.clone(), t.dtype, t.threads);
            if seen.contains(&key) || !measured.contains(&(m.host.clone(), t.dtype)) {
                continue;
            }
            seen.push(key);
            out_rows.push(vec![
                format!("theoretical · {}", m.host),
                t.threads.to_string(),
                format!("compute {}", t.dtype),
                "registers".into(),
                t.gmacs_per_s
                    .map_or("–".into(), |g| format!("{} G MAC/s", f(g, 1))),
                t.method.clone(),
            ]);
        }
    }
    let intro = "Each roof as flopsbench peak measured it, its best sample (as STREAM and the \
                 Empirical Roofline Toolkit report): the compute peak per dtype (the FMA-chain \
                 micro-kernel and each backend's GEMM; the roof is the higher) and the \
                 bandwidth of each memory level (a read-write kernel sized to each cache level \
                 the OS reports, and to DRAM; bytes read + written, as a layer's traffic is \
                 counted). The theoretical peak only frames the measured one: its FMA units \
                 are assumed and a VM hides its clock."
        .to_string();
    Some(Table {
        title: "Device ceilings (flopsbench peak)".into(),
        intro,
        header: ["Column", "Threads", "Figure", "Level", "Value", "Method"]
            .map(String::from)
            .to_vec(),
        rows: out_rows,
    })
}

/// What a row's place under its roofs means: `gbytes_per_s` is its traffic's rate.
pub fn finding(fraction: f64, b: &Bound, gbytes_per_s: f64) -> String {
    let of_level = format!(
        "{} GB/s, {} of the {} bandwidth ({} GB/s)",
        f(gbytes_per_s, 1),
        percent(gbytes_per_s / b.level_gbytes_per_s),
        b.level,
        f(b.level_gbytes_per_s, 1)
    );
    if fraction > 1.0 {
        "above its roof: a roof is too low (rerun flopsbench peak) or fewer multiply-adds ran \
         than counted"
            .into()
    } else if fraction < 0.25 {
        let roof = if b.bound == "compute" {
            format!("{} of the compute peak", percent(fraction))
        } else {
            format!("{} of its roof", percent(fraction))
        };
        format!("{of_level}, {roof}: bound by neither roof, the kernel, not the memory, is slow")
    } else if b.bound == "compute" {
        format!("compute-bound, {} of the peak", percent(fraction))
    } else {
        format!("memory-bound at {}: {of_level}", b.level)
    }
}

fn percent(x: f64) -> String {
    if x < 0.1 {
        format!("{:.1}%", x * 100.0)
    } else {
        format!("{:.0}%", x * 100.0)
    }
}

/// Each measured row (operator stacks and networks) under the roofs of its host, device,
/// dtype and thread count, with its rows above their roof named in the intro.
pub fn bounds(loaded: &Loaded, include_emulated: bool) -> Option<Table> {
    let rows = usable(&loaded.records, include_emulated);
    let mut placed = Vec::new();
    for r in rows.iter().copied() {
        if r.kind == CaseKind::Peak || r.macs == 0 || r.status != Status::Ok {
            continue;
        }
        let (Some(rate), Some(roofs)) = (
            r.gmacs_per_s,
            Ceilings::of(
                &peaks_of(&rows, &r.host, &r.device.to_string()),
                r.threads,
                r.dtype,
            ),
        ) else {
            continue;
        };
        let i = intensity(r);
        let b = roofs.bound(i, r.working_set_bytes);
        let fraction = rate / b.roof;
        placed.push((r, i, rate, b, fraction));
    }
    if placed.is_empty() {
        return None;
    }
    placed.sort_by_cached_key(|(r, ..)| (Column::of(r), r.kind, r.case.clone()));
    let above: Vec<String> = placed
        .iter()
        .filter(|p| p.4 > 1.0)
        .map(|(r, _, _, b, fr)| {
            format!(
                "{} on {} ({}× its {} roof)",
                r.case,
                r.backend,
                f(*fr, 2),
                b.bound
            )
        })
        .collect();
    let mut intro = "Each row under the roofs of its device, dtype and thread count: its working \
                     set (input + output + weights of its largest layer) names the memory level \
                     that holds it; its bound is that level's bandwidth × its intensity or the \
                     compute peak, whichever is lower; the fraction is its rate over that roof. \
                     GB/s: the traffic of the graph its backend ran over its median time."
        .to_string();
    if placed.iter().any(|p| p.0.working_set_bytes.is_none()) {
        intro += " Rows without a working set (files written before it was recorded) sit \
                   under DRAM.";
    }
    if above.is_empty() {
        intro += " No row sits above its roof.";
    } else {
        intro += &format!(
            " Note: {} row(s) above their roof (a roof is wrong, or the backend computes fewer \
             multiply-adds than counted; rerun flopsbench peak): {}.",
            above.len(),
            above.join("; ")
        );
    }
    let out_rows = placed
        .iter()
        .map(|(r, i, rate, b, fraction)| {
            vec![
                Column::of(r).to_string(),
                r.case.clone(),
                r.working_set_bytes.map_or("–".into(), bytes_text),
                b.level.clone(),
                f(*i, 2),
                f(*rate, 1),
                f(rate / i, 1),
                b.bound.clone(),
                percent(*fraction),
                finding(*fraction, b, rate / i),
            ]
        })
        .collect();
    Some(Table {
        title: "Where each row sits: bounds by memory level".into(),
        intro,
        header: [
            "Column",
            "Case",
            "Working set",
            "Level",
            "MAC/byte",
            "G MAC/s",
            "GB/s",
            "Bound",
            "Of roof",
            "Finding",
        ]
        .map(String::from)
        .to_vec(),
        rows: out_rows,
    })
}
