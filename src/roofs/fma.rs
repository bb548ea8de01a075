//! The compute micro-kernel: independent chains of fused multiply-adds on vector
//! registers (`acc = acc · a + b`), written with `std::arch` for the widest instruction
//! the CPU has at a dtype, chosen at run time from its features: f32 AVX-512F, AVX2+FMA
//! or NEON (a scalar `mul_add` elsewhere); bf16 `vdpbf16ps` (AVX512-BF16); int8
//! `vpdpbusd` (AVX512-VNNI, or AVX-VNNI on 256 bits). Enough chains are in flight to
//! cover every FMA unit's latency; `a` and `b` come through `black_box`, so no compiler
//! turns the multiply-add into an add. Each chain's value after `n` steps is known
//! exactly (`n`, or `4n` for int8), which checks the run before it is timed.

use crate::spec::Dtype;

/// Independent accumulators per thread where the ISA has 32 vector registers (AVX-512,
/// NEON): 16 in flight cover a 4-cycle FMA latency on four units.
pub const CHAINS: usize = 16;
/// Where it has 16 (AVX2): 12 cover a 4-cycle latency on two units and leave room for the
/// operands.
pub const CHAINS_16_REGISTERS: usize = 12;
/// Steps per call and thread never exceed this: every f32 chain value stays an exact
/// integer (below 2^24).
pub const MAX_STEPS: u64 = 1 << 24;

/// The instruction a kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// `vfmadd231ps zmm`: 16 f32 lanes, 1 multiply-add each.
    Avx512,
    /// `vfmadd231ps ymm`: 8 lanes.
    Avx2Fma,
    /// `fmla v.4s`: 4 lanes.
    Neon,
    /// `f32::mul_add`: 1 lane.
    Scalar,
    /// `vdpbf16ps zmm`: 16 lanes, 2 bf16 multiply-adds each.
    Avx512Bf16,
    /// `vpdpbusd zmm`: 16 lanes, 4 u8×i8 multiply-adds each.
    Avx512Vnni,
    /// `vpdpbusd ymm` (AVX-VNNI): 8 lanes, 4 each.
    AvxVnni,
}

impl Isa {
    /// The widest kernel for `dtype` on this CPU, or why there is none.
    pub fn for_dtype(dtype: Dtype) -> Result<Isa, String> {
        #[cfg(target_arch = "x86_64")]
        {
            let has = |f: &str| match f {
                "avx512f" => std::arch::is_x86_feature_detected!("avx512f"),
                "avx2+fma" => {
                    std::arch::is_x86_feature_detected!("avx2")
                        && std::arch::is_x86_feature_detected!("fma")
                }
                "avx512bf16" => std::arch::is_x86_feature_detected!("avx512bf16"),
                "avx512vnni" => std::arch::is_x86_feature_detected!("avx512vnni"),
                "avxvnni" => std::arch::is_x86_feature_detected!("avxvnni"),
                _ => false,
            };
            match dtype {
                Dtype::F32 if has("avx512f") => Ok(Isa::Avx512),
                Dtype::F32 if has("avx2+fma") => Ok(Isa::Avx2Fma),
                Dtype::F32 => Ok(Isa::Scalar),
                Dtype::Bf16 if has("avx512bf16") => Ok(Isa::Avx512Bf16),
                Dtype::Int8 if has("avx512vnni") => Ok(Isa::Avx512Vnni),
                Dtype::Int8 if has("avxvnni") => Ok(Isa::AvxVnni),
                d => Err(format!(
                    "no {d} multiply-add instruction for a micro-kernel on this CPU ({}); the \
                     {d} compute roof is the backends' best GEMM",
                    match d {
                        Dtype::Bf16 => "needs avx512_bf16",
                        Dtype::Int8 => "needs avx512_vnni or avx_vnni",
                        _ => "flopsbench has no f16 micro-kernel for x86",
                    }
                )),
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            match dtype {
                Dtype::F32 => Ok(Isa::Neon),
                d => Err(format!(
                    "no {d} micro-kernel for aarch64 yet; the {d} compute roof is the backends' \
                     best GEMM"
                )),
            }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            match dtype {
                Dtype::F32 => Ok(Isa::Scalar),
                d => Err(format!("no {d} micro-kernel for this architecture")),
            }
        }
    }

    /// Vector lanes of one instruction.
    pub fn lanes(self) -> u64 {
        match self {
            Isa::Avx512 | Isa::Avx512Bf16 | Isa::Avx512Vnni => 16,
            Isa::Avx2Fma | Isa::AvxVnni => 8,
            Isa::Neon => 4,
            Isa::Scalar => 1,
        }
    }

    /// Multiply-adds per lane of one instruction.
    pub fn macs_per_lane(self) -> u64 {
        match self {
            Isa::Avx512Bf16 => 2,
            Isa::Avx512Vnni | Isa::AvxVnni => 4,
            _ => 1,
        }
    }

    /// Independent accumulators it keeps in flight.
    pub fn chains(self) -> u64 {
        match self {
            Isa::Avx2Fma | Isa::AvxVnni | Isa::Scalar => CHAINS_16_REGISTERS as u64,
            _ => CHAINS as u64,
        }
    }

    /// Multiply-adds of one call of `steps` steps on one thread.
    pub fn macs(self, steps: u64) -> u64 {
        steps.min(MAX_STEPS) * self.chains() * self.lanes() * self.macs_per_lane()
    }

    /// How the kernel is described in a row's `detail`.
    pub fn describe(self) -> String {
        let (insn, ext) = match self {
            Isa::Avx512 => ("vfmadd231ps zmm", "AVX-512F"),
            Isa::Avx2Fma => ("vfmadd231ps ymm", "AVX2+FMA"),
            Isa::Neon => ("fmla v.4s", "NEON"),
            Isa::Scalar => ("f32::mul_add", "scalar"),
            Isa::Avx512Bf16 => ("vdpbf16ps zmm", "AVX512-BF16"),
            Isa::Avx512Vnni => ("vpdpbusd zmm", "AVX512-VNNI"),
            Isa::AvxVnni => ("vpdpbusd ymm", "AVX-VNNI"),
        };
        format!(
            "FMA chains: {} independent {insn} ({ext}) accumulators, {} lanes × {} \
             multiply-add(s) per instruction",
            self.chains(),
            self.lanes(),
            self.macs_per_lane()
        )
    }

    /// Runs `steps` steps of every chain on this thread; the sum of every lane's final
    /// value (exactly `steps × lanes × chains`, × 4 for int8, when correct).
    pub fn run(self, steps: u64) -> f64 {
        let steps = steps.min(MAX_STEPS);
        let one = std::hint::black_box(1.0f32);
        // SAFETY: each kernel is only chosen by `for_dtype` when the CPU has its features.
        #[allow(unreachable_patterns)]
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { x86::f32_avx512::<CHAINS>(steps, one) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => unsafe { x86::f32_avx2::<CHAINS_16_REGISTERS>(steps, one) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Bf16 => unsafe { x86::bf16_avx512::<CHAINS>(steps, one) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => unsafe {
                x86::int8_avx512::<CHAINS>(steps, std::hint::black_box(1))
            },
            #[cfg(target_arch = "x86_64")]
            Isa::AvxVnni => unsafe {
                x86::int8_avx256::<CHAINS_16_REGISTERS>(steps, std::hint::black_box(1))
            },
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { arm::f32_neon::<CHAINS>(steps, one) },
            _ => scalar(steps, one),
        }
    }

    /// What [`Isa::run`] returns when every multiply-add was done.
    pub fn expected(self, steps: u64) -> f64 {
        let per_lane = match self {
            Isa::Avx512Vnni | Isa::AvxVnni => 4 * steps.min(MAX_STEPS),
            _ => steps.min(MAX_STEPS),
        };
        per_lane as f64 * self.lanes() as f64 * self.chains() as f64
    }
}

fn scalar(steps: u64, one: f32) -> f64 {
    let mut acc = [0.0f32; CHAINS_16_REGISTERS];
    for _ in 0..steps {
        for a in acc.iter_mut() {
            *a = a.mul_add(one, one);
        }
    }
    acc.iter().map(|&v| f64::from(v)).sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    fn sum_f32(lanes: &[f32]) -> f64 {
        lanes.iter().map(|&v| f64::from(v)).sum()
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn f32_avx512<const N: usize>(steps: u64, one: f32) -> f64 {
        let v = _mm512_set1_ps(one);
        let mut acc = [_mm512_setzero_ps(); N];
        for _ in 0..steps {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, v, v);
            }
        }
        let mut out = [0.0f32; 16];
        let mut total = 0.0;
        for a in acc {
            // SAFETY: `out` holds 16 f32.
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), a) };
            total += sum_f32(&out);
        }
        total
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn f32_avx2<const N: usize>(steps: u64, one: f32) -> f64 {
        let v = _mm256_set1_ps(one);
        let mut acc = [_mm256_setzero_ps(); N];
        for _ in 0..steps {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, v, v);
            }
        }
        let mut out = [0.0f32; 8];
        let mut total = 0.0;
        for a in acc {
            // SAFETY: `out` holds 8 f32.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), a) };
            total += sum_f32(&out);
        }
        total
    }

    /// Each step adds 1·1 + 1·0 per lane (bf16 pairs `a` = (1, 1), `b` = (1, 0)): both
    /// products computed, every value an integer.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) fn bf16_avx512<const N: usize>(steps: u64, one: f32) -> f64 {
        let a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(one), _mm512_set1_ps(one));
        let mut pairs = [0.0f32; 16];
        for k in (0..16).step_by(2) {
            pairs[k] = one;
        }
        // SAFETY: `pairs` holds 16 f32.
        let alternating = unsafe { _mm512_loadu_ps(pairs.as_ptr()) };
        let b = _mm512_cvtne2ps_pbh(alternating, alternating);
        let mut acc = [_mm512_setzero_ps(); N];
        for _ in 0..steps {
            for x in acc.iter_mut() {
                *x = _mm512_dpbf16_ps(*x, a, b);
            }
        }
        let mut out = [0.0f32; 16];
        let mut total = 0.0;
        for x in acc {
            // SAFETY: `out` holds 16 f32.
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), x) };
            total += sum_f32(&out);
        }
        total
    }

    fn sum_i32(lanes: &[i32]) -> f64 {
        lanes.iter().map(|&v| f64::from(v)).sum()
    }

    /// Each step adds four 1 × 1 products per lane.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub(super) fn int8_avx512<const N: usize>(steps: u64, one: i8) -> f64 {
        let v = _mm512_set1_epi8(one);
        let mut acc = [_mm512_setzero_si512(); N];
        for _ in 0..steps {
            for x in acc.iter_mut() {
                *x = _mm512_dpbusd_epi32(*x, v, v);
            }
        }
        let mut out = [0i32; 16];
        let mut total = 0.0;
        for x in acc {
            // SAFETY: `out` holds 16 i32.
            unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), x) };
            total += sum_i32(&out);
        }
        total
    }

    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) fn int8_avx256<const N: usize>(steps: u64, one: i8) -> f64 {
        let v = _mm256_set1_epi8(one);
        let mut acc = [_mm256_setzero_si256(); N];
        for _ in 0..steps {
            for x in acc.iter_mut() {
                *x = _mm256_dpbusd_avx_epi32(*x, v, v);
            }
        }
        let mut out = [0i32; 8];
        let mut total = 0.0;
        for x in acc {
            // SAFETY: `out` holds 8 i32.
            unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), x) };
            total += sum_i32(&out);
        }
        total
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use std::arch::aarch64::*;

    #[target_feature(enable = "neon")]
    pub(super) fn f32_neon<const N: usize>(steps: u64, one: f32) -> f64 {
        let v = vdupq_n_f32(one);
        let mut acc = [vdupq_n_f32(0.0); N];
        for _ in 0..steps {
            for a in acc.iter_mut() {
                *a = vfmaq_f32(v, *a, v);
            }
        }
        let mut out = [0.0f32; 4];
        let mut total = 0.0;
        for a in acc {
            // SAFETY: `out` holds 4 f32.
            unsafe { vst1q_f32(out.as_mut_ptr(), a) };
            total += out.iter().map(|&x| f64::from(x)).sum::<f64>();
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_this_cpu_has_computes_its_closed_form() {
        for dtype in [Dtype::F32, Dtype::Bf16, Dtype::Int8, Dtype::F16] {
            let Ok(isa) = Isa::for_dtype(dtype) else {
                continue;
            };
            for steps in [0, 1, 1000] {
                assert_eq!(isa.run(steps), isa.expected(steps), "{isa:?} {steps}");
            }
            assert_eq!(
                isa.macs(10),
                10 * isa.chains() * isa.lanes() * isa.macs_per_lane()
            );
        }
        assert_eq!(scalar(7, 1.0), 7.0 * CHAINS_16_REGISTERS as f64);
        assert!(Isa::for_dtype(Dtype::F32).is_ok());
    }
}
