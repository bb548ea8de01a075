//! Human-readable numbers for terminal and Markdown tables (files keep raw integers).

/// `1234567` → `1.23 M`; SI prefixes k, M, G, T with three significant digits.
pub fn si(value: f64) -> String {
    let prefixes = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    for (scale, p) in prefixes {
        if value.abs() >= scale {
            return format!("{} {p}", three_digits(value / scale));
        }
    }
    three_digits(value)
}

/// Bytes with binary prefixes: `1.50 MiB`.
pub fn bytes(value: u64) -> String {
    let units = [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (scale, u) in units {
        if value >= scale {
            return format!("{} {u}", three_digits(value as f64 / scale as f64));
        }
    }
    format!("{value} B")
}

fn three_digits(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(si(335_422_720.0), "335.4 M");
        assert_eq!(si(4_089_184_256.0), "4.089 G");
        assert_eq!(si(12.0), "12");
        assert_eq!(si(3.5), "3.500");
        assert_eq!(bytes(1536), "1.500 KiB");
        assert_eq!(bytes(10), "10 B");
    }
}
