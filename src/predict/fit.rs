//! Least squares with non-negative coefficients (a layer never gets faster with more
//! multiply-adds or bytes), solved exactly: the optimum of a non-negative least-squares
//! problem is the ordinary least-squares fit on its own support, so with the few columns
//! the predictors use (at most three) every subset of columns is fitted and the feasible
//! fit with the smallest residual is the answer — the solution Lawson–Hanson's active-set
//! iteration converges to, without its iteration.

/// Coefficients of `y ≈ Σ c_k · x_k` over the rows `xs` (each row one value per column),
/// every `c_k ≥ 0`; `None` without rows.
pub fn nonnegative(xs: &[Vec<f64>], y: &[f64]) -> Option<Vec<f64>> {
    let columns = xs.first()?.len();
    // Columns scaled to at most 1 (multiply-adds are ~1e9, an intercept 1): the normal
    // equations stay well conditioned.
    let scale: Vec<f64> = (0..columns)
        .map(|k| {
            let m = xs.iter().map(|r| r[k].abs()).fold(0.0, f64::max);
            if m > 0.0 { m } else { 1.0 }
        })
        .collect();
    let scaled: Vec<Vec<f64>> = xs
        .iter()
        .map(|r| r.iter().zip(&scale).map(|(v, s)| v / s).collect())
        .collect();
    let c = fit_scaled(&scaled, y, columns)?;
    Some(c.iter().zip(&scale).map(|(c, s)| c / s).collect())
}

/// The most columns fitted by enumerating supports (2^columns least-squares fits).
const MAX_COLUMNS: usize = 12;

fn fit_scaled(xs: &[Vec<f64>], y: &[f64], columns: usize) -> Option<Vec<f64>> {
    assert!(
        columns <= MAX_COLUMNS,
        "{columns} columns: at most {MAX_COLUMNS}"
    );
    // The empty support (all zeros) is always feasible.
    let mut best = (y.iter().map(|v| v * v).sum::<f64>(), vec![0.0; columns]);
    for mask in 1u32..(1 << columns) {
        let kept: Vec<usize> = (0..columns).filter(|k| mask & (1 << k) != 0).collect();
        let c = solve_columns(xs, y, &kept)?;
        if c.iter().any(|v| *v < 0.0) {
            continue;
        }
        let mut full = vec![0.0; columns];
        for (k, v) in kept.iter().zip(c) {
            full[*k] = v;
        }
        let residual: f64 = xs
            .iter()
            .zip(y)
            .map(|(row, t)| {
                let fit: f64 = row.iter().zip(&full).map(|(x, c)| x * c).sum();
                (fit - t) * (fit - t)
            })
            .sum();
        // Ties (a column adding nothing) keep the smaller support, found first.
        if residual < best.0 * (1.0 - 1e-12) {
            best = (residual, full);
        }
    }
    Some(best.1)
}

/// Ordinary least squares on the columns `kept`: the normal equations by Gaussian
/// elimination with partial pivoting; a singular system drops its last column.
fn solve_columns(xs: &[Vec<f64>], y: &[f64], kept: &[usize]) -> Option<Vec<f64>> {
    let k = kept.len();
    let mut a = vec![vec![0.0; k + 1]; k];
    for (row, &target) in xs.iter().zip(y) {
        for i in 0..k {
            for j in 0..k {
                a[i][j] += row[kept[i]] * row[kept[j]];
            }
            a[i][k] += row[kept[i]] * target;
        }
    }
    for col in 0..k {
        let pivot = (col..k).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            // Singular (a column of zeros, or two proportional ones): fit without it.
            let fewer: Vec<usize> = kept.iter().copied().filter(|&c| c != kept[col]).collect();
            let sub = solve_columns(xs, y, &fewer)?;
            let mut out = Vec::with_capacity(k);
            let mut it = sub.into_iter();
            for i in 0..k {
                out.push(if i == col { 0.0 } else { it.next()? });
            }
            return Some(out);
        }
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    Some((0..k).map(|i| a[i][k] / a[i][i]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_fits_are_found_and_negative_terms_dropped() {
        // y = 2·x0 + 3 (an intercept column of ones).
        let xs: Vec<Vec<f64>> = (0..5).map(|i| vec![i as f64, 1.0]).collect();
        let y: Vec<f64> = (0..5).map(|i| 2.0 * i as f64 + 3.0).collect();
        let c = nonnegative(&xs, &y).unwrap();
        assert!(
            (c[0] - 2.0).abs() < 1e-9 && (c[1] - 3.0).abs() < 1e-9,
            "{c:?}"
        );
        // y = 2·x0 − 1: the intercept would be negative, so it is dropped and x0 alone
        // fits through the origin.
        let y: Vec<f64> = (0..5).map(|i| 2.0 * i as f64 - 1.0).collect();
        let c = nonnegative(&xs, &y).unwrap();
        assert_eq!(c[1], 0.0);
        // Through the origin: Σ x·y / Σ x² = 50 / 30.
        assert!((c[0] - 5.0 / 3.0).abs() < 1e-9, "{c:?}");
        // A column of zeros is left at 0.
        let xs: Vec<Vec<f64>> = (1..5).map(|i| vec![i as f64, 0.0]).collect();
        let y: Vec<f64> = (1..5).map(|i| 4.0 * i as f64).collect();
        assert_eq!(nonnegative(&xs, &y).unwrap(), vec![4.0, 0.0]);
    }

    #[test]
    fn the_optimum_is_found_where_dropping_negative_terms_misses_it() {
        // Unconstrained: c = (4.11, −2.72, −0.18); dropping both negatives and refitting
        // gives (1.6, 0, 0) with residual 20.4, but the optimum keeps column 2:
        // (29/19, 0, 14/57) with residual 19.37 (checked with numpy's lstsq on every
        // support).
        let xs: Vec<Vec<f64>> = vec![
            vec![1.0, 0.0, 3.0],
            vec![1.0, 1.0, 0.0],
            vec![2.0, 3.0, 0.0],
            vec![2.0, 1.0, 0.0],
            vec![0.0, 0.0, 3.0],
        ];
        let y = vec![4.0, 2.0, 0.0, 5.0, -1.0];
        let c = nonnegative(&xs, &y).unwrap();
        let want = [29.0 / 19.0, 0.0, 14.0 / 57.0];
        assert!(
            c.iter().zip(want).all(|(c, w)| (c - w).abs() < 1e-9),
            "{c:?} vs {want:?}"
        );
    }
}
