//! Least squares with non-negative coefficients: the normal equations solved for the
//! columns kept, dropping any column whose coefficient comes out negative and fitting
//! again (a layer never gets faster with more multiply-adds or bytes).

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

fn fit_scaled(xs: &[Vec<f64>], y: &[f64], columns: usize) -> Option<Vec<f64>> {
    let mut kept: Vec<usize> = (0..columns).collect();
    loop {
        let c = solve_columns(xs, y, &kept)?;
        let negative: Vec<usize> = kept
            .iter()
            .zip(&c)
            .filter(|(_, v)| **v < 0.0)
            .map(|(k, _)| *k)
            .collect();
        if negative.is_empty() {
            let mut out = vec![0.0; columns];
            for (k, v) in kept.iter().zip(c) {
                out[*k] = v;
            }
            return Some(out);
        }
        kept.retain(|k| !negative.contains(k));
        if kept.is_empty() {
            return Some(vec![0.0; columns]);
        }
    }
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
}
