//! Which oneDNN kernel runs tch's convolutions: oneDNN's verbose mode (`ONEDNN_VERBOSE=1`)
//! prints a line per primitive it executes — to stdout, so it is read in a child process
//! (this binary's hidden `onednn-probe` command), never into the run's own output. The
//! child runs the first convolution of each kind (dense, grouped, depthwise) of a model
//! alone, with its geometry, batch, threads and dtype: ATen decides by these whether a
//! convolution goes to oneDNN at all (a small dense 3×3 one at batch 1 does not), and
//! oneDNN picks its kernel (AMX, AVX-512 bf16, …) by ISA, dtype and grouping. A probe that
//! prints no convolution line ran in ATen's own kernel. Each probe runs once per process.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::spec::{Conv2d, Dtype, Layer, NetBuilder, OpKind, Shape};

/// The hidden command that runs one probe: `flopsbench onednn-probe SPEC`.
pub const COMMAND: &str = "onednn-probe";
/// What the probe prints last, once the convolution ran.
const RAN: &str = "onednn-probe: ran";

/// One convolution as a row runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Probe {
    /// Dense, grouped or depthwise.
    pub kind: OpKind,
    /// The convolution.
    pub conv: Conv2d,
    /// Its input (one item).
    pub input: Shape,
    /// Batch.
    pub batch: usize,
    /// Threads.
    pub threads: usize,
    /// Element type.
    pub dtype: Dtype,
}

impl Probe {
    /// The probe of `conv` on `input` (its kind from its grouping).
    pub fn of(conv: Conv2d, input: Shape, batch: usize, threads: usize, dtype: Dtype) -> Probe {
        let kind = match conv.groups {
            1 => OpKind::Conv,
            g if g == conv.c_in && conv.c_in == conv.c_out => OpKind::Dwconv,
            _ => OpKind::Gconv,
        };
        Probe {
            kind,
            conv,
            input,
            batch,
            threads,
            dtype,
        }
    }

    /// The command-line form: `c_in,h,w,c_out,kernel,stride,padding,groups,batch,threads,dtype`.
    fn spec(&self) -> String {
        let c = &self.conv;
        format!(
            "{},{},{},{},{},{},{},{},{},{},{}",
            c.c_in,
            self.input.h,
            self.input.w,
            c.c_out,
            c.kernel,
            c.stride,
            c.padding,
            c.groups,
            self.batch,
            self.threads,
            self.dtype
        )
    }

    fn parse(spec: &str) -> Result<Probe> {
        let bad = || Error::Usage(format!("{COMMAND}: '{spec}' is not a probe"));
        let parts: Vec<&str> = spec.split(',').collect();
        let [c_in, h, w, c_out, k, s, p, g, batch, threads, dtype] = parts[..] else {
            return Err(bad());
        };
        let n = |v: &str| v.parse::<usize>().map_err(|_| bad());
        let mut conv = Conv2d::new(n(c_in)?, n(c_out)?, n(k)?, n(s)?, n(g)?);
        conv.padding = n(p)?;
        Ok(Probe::of(
            conv,
            Shape::new(n(c_in)?, n(h)?, n(w)?),
            n(batch)?,
            n(threads)?,
            dtype.parse().map_err(Error::Usage)?,
        ))
    }
}

static KERNELS: Mutex<Option<HashMap<Probe, String>>> = Mutex::new(None);

/// The kernel oneDNN runs `probe` with on this CPU (`brg_conv_fwd:avx512_core_amx_bf16`),
/// `not oneDNN (ATen's own kernel)` when none, or why it could not be told.
pub fn kernel(probe: &Probe) -> String {
    let mut cache = KERNELS.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .get_or_insert_with(HashMap::new)
        .entry(*probe)
        .or_insert_with(|| in_child(probe))
        .clone()
}

fn in_child(probe: &Probe) -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "unknown (no path to this binary)".into();
    };
    let out = std::process::Command::new(exe)
        .args([COMMAND, &probe.spec()])
        .env("ONEDNN_VERBOSE", "1")
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        // The child says it ran the convolution: a binary that is not flopsbench (a test
        // harness) would exit 0 having run nothing.
        Ok(o) if o.status.success() && String::from_utf8_lossy(&o.stdout).contains(RAN) => {
            parse(&String::from_utf8_lossy(&o.stdout))
                .unwrap_or_else(|| "not oneDNN (ATen's own kernel)".into())
        }
        Ok(o) if o.status.success() => "unknown (this binary cannot run the oneDNN probe)".into(),
        Ok(o) => format!(
            "unknown (the probe failed: {})",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("unknown (the probe did not start: {e})"),
    }
}

/// The implementation name of the first convolution oneDNN's verbose output says it
/// executed: the field after `convolution` on an `exec` line (`onednn_verbose,v1,
/// primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core_amx_bf16,…`).
pub fn parse(verbose: &str) -> Option<String> {
    verbose
        .lines()
        .filter(|l| l.starts_with("onednn_verbose") && l.contains(",exec,"))
        .find_map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            let at = fields.iter().position(|f| *f == "convolution")?;
            fields.get(at + 1).map(|s| s.to_string())
        })
}

/// Runs the probe `spec` once in tch (the child side of [`kernel`]).
pub fn probe(spec: &str) -> Result<()> {
    let p = Probe::parse(spec)?;
    let mut b = NetBuilder::new("probe", p.input, COMMAND);
    let x = b.input();
    b.push("conv", Layer::Conv(p.conv), &[x])?;
    let model = crate::model::Model::new(&b.finish(), p.batch, 0, true);
    let settings = super::super::Settings {
        dtype: p.dtype,
        ..super::super::Settings::f32(p.threads)
    };
    let backend: &dyn super::super::Backend = &super::Tch;
    let mut prepared = backend.prepare(&model, &crate::device::DeviceSpec::Cpu, &settings)?;
    prepared.run()?;
    prepared.sync()?;
    // Only the probe's own stdout (oneDNN's verbose lines, then this), never a run's.
    println!("{RAN}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_convolution_kernel_is_read_from_verbose_lines() {
        let text = "onednn_verbose,v1,info,cpu,runtime:OpenMP\n\
             onednn_verbose,v1,primitive,create:cache_miss,cpu,convolution,jit:avx2,forward_inference\n\
             onednn_verbose,v1,primitive,exec,cpu,reorder,simple:any,undef\n\
             onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core_amx_bf16,forward_inference,src:bf16\n";
        assert_eq!(
            parse(text).as_deref(),
            Some("brg_conv_fwd:avx512_core_amx_bf16")
        );
        assert_eq!(parse("nothing from oneDNN\n"), None);
    }

    #[test]
    fn a_probe_survives_its_command_line() {
        let mut conv = Conv2d::new(96, 96, 3, 2, 96);
        conv.padding = 1;
        let p = Probe::of(conv, Shape::new(96, 56, 56), 4, 2, Dtype::Bf16);
        assert_eq!(p.kind, OpKind::Dwconv);
        assert_eq!(Probe::parse(&p.spec()).unwrap(), p);
        assert!(Probe::parse("1,2,3").is_err());
    }
}
