//! The bandwidth micro-kernel: a read-write pass `dst[i] = max(src[i], 0)` over two
//! 64-byte-aligned buffers, written with `std::arch` for the widest loads and stores the
//! CPU has (AVX-512F, AVX2, NEON; plain code elsewhere), the buffers swapping roles every
//! pass. Sized to a cache level, every pass after the first hits that level; its bytes
//! are counted as a layer's are (what it reads plus what it writes), so the figure is the
//! bandwidth a layer's analytic traffic can reach at that level.

/// One cache line of f32 values, aligned to it.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub struct Line(pub [f32; 16]);

/// Bytes of one [`Line`].
pub const LINE_BYTES: u64 = 64;

/// The value at position `i` before any pass: a mix of negative, zero and positive.
pub fn initial(i: usize) -> f32 {
    (i % 7) as f32 - 3.0
}

/// A thread's two buffers of `lines` lines each, the first filled with [`initial`].
pub fn buffers(lines: usize) -> (Vec<Line>, Vec<Line>) {
    let mut src = vec![Line([0.0; 16]); lines.max(1)];
    for (l, line) in src.iter_mut().enumerate() {
        for (k, v) in line.0.iter_mut().enumerate() {
            *v = initial(l * 16 + k);
        }
    }
    let dst = src.clone();
    (src, dst)
}

/// Whether `buf` holds `max(initial, 0)` everywhere (what any number of passes leaves in
/// the buffer written last).
pub fn holds_relu(buf: &[Line]) -> bool {
    buf.iter().enumerate().all(|(l, line)| {
        line.0
            .iter()
            .enumerate()
            .all(|(k, &v)| v == initial(l * 16 + k).max(0.0))
    })
}

/// How the kernel is described in a row's `detail`.
pub fn describe() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "read-write pass dst = max(src, 0) with AVX-512F loads and stores";
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return "read-write pass dst = max(src, 0) with AVX2 loads and stores";
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        return "read-write pass dst = max(src, 0) with NEON loads and stores";
    }
    #[allow(unreachable_code)]
    "read-write pass dst = max(src, 0)"
}

/// `passes` passes over the two buffers, alternating direction (src → dst, dst → src);
/// the buffer written last is `dst` when `passes` is odd.
pub fn run(src: &mut [Line], dst: &mut [Line], passes: usize) {
    for p in 0..passes {
        if p % 2 == 0 {
            pass(src, dst);
        } else {
            pass(dst, src);
        }
    }
}

/// One pass `dst = max(src, 0)`.
pub fn pass(src: &[Line], dst: &mut [Line]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { x86::pass_avx512(src, dst) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { x86::pass_avx2(src, dst) };
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: NEON is part of aarch64.
        return unsafe { arm::pass_neon(src, dst) };
    }
    #[allow(unreachable_code)]
    for (d, s) in dst.iter_mut().zip(src) {
        for (o, i) in d.0.iter_mut().zip(&s.0) {
            *o = if *i > 0.0 { *i } else { 0.0 };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Line;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub(super) fn pass_avx512(src: &[Line], dst: &mut [Line]) {
        let zero = _mm512_setzero_ps();
        for (d, s) in dst.iter_mut().zip(src) {
            // SAFETY: a line is 64 aligned bytes.
            unsafe {
                let v = _mm512_load_ps(s.0.as_ptr());
                _mm512_store_ps(d.0.as_mut_ptr(), _mm512_max_ps(v, zero));
            }
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn pass_avx2(src: &[Line], dst: &mut [Line]) {
        let zero = _mm256_setzero_ps();
        for (d, s) in dst.iter_mut().zip(src) {
            // SAFETY: a line is 64 aligned bytes: two 32-byte halves.
            unsafe {
                let a = _mm256_load_ps(s.0.as_ptr());
                let b = _mm256_load_ps(s.0.as_ptr().add(8));
                _mm256_store_ps(d.0.as_mut_ptr(), _mm256_max_ps(a, zero));
                _mm256_store_ps(d.0.as_mut_ptr().add(8), _mm256_max_ps(b, zero));
            }
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::Line;
    use std::arch::aarch64::*;

    #[target_feature(enable = "neon")]
    pub(super) fn pass_neon(src: &[Line], dst: &mut [Line]) {
        let zero = vdupq_n_f32(0.0);
        for (d, s) in dst.iter_mut().zip(src) {
            for k in 0..4 {
                // SAFETY: a line holds four groups of 4 f32.
                unsafe {
                    let v = vld1q_f32(s.0.as_ptr().add(4 * k));
                    vst1q_f32(d.0.as_mut_ptr().add(4 * k), vmaxq_f32(v, zero));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_leave_the_relu_of_the_input() {
        let (mut a, mut b) = buffers(5);
        assert!(!holds_relu(&a));
        run(&mut a, &mut b, 1);
        assert!(holds_relu(&b));
        run(&mut a, &mut b, 4);
        assert!(holds_relu(&a) && holds_relu(&b));
        assert_eq!(std::mem::align_of::<Line>() as u64, LINE_BYTES);
    }
}
