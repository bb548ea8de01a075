//! The partial ratio `r` of PConv as an exact fraction, so that `c_p = floor(c·r)` is
//! computed in integers exactly as the authors' `dim // n_div`.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A fraction `num/den` in (0, 1], reduced to lowest terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratio {
    num: u64,
    den: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Ratio {
    /// The fraction `num/den`; `None` unless 0 < num ≤ den.
    pub fn new(num: u64, den: u64) -> Option<Self> {
        if num == 0 || den == 0 || num > den {
            return None;
        }
        let g = gcd(num, den);
        Some(Ratio {
            num: num / g,
            den: den / g,
        })
    }

    /// The whole: r = 1.
    pub const ONE: Ratio = Ratio { num: 1, den: 1 };
    /// The paper's default: r = 1/4 (`n_div = 4`).
    pub const QUARTER: Ratio = Ratio { num: 1, den: 4 };

    /// `floor(c·r)`: the number of convolved channels of a PConv on `c` channels.
    pub fn partial_channels(&self, c: usize) -> usize {
        ((c as u64 * self.num) / self.den) as usize
    }

    /// The value as a float (for CSV columns and plots).
    pub fn as_f64(&self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

impl Serialize for Ratio {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

/// Why a ratio string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatioError {
    /// Not a number or fraction.
    Malformed(String),
    /// A number, but outside (0, 1].
    OutOfRange(String),
}

impl fmt::Display for RatioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RatioError::Malformed(s) => write!(
                f,
                "'{s}' is not a ratio; write a decimal such as 0.25 or a fraction such as 1/4"
            ),
            RatioError::OutOfRange(s) => write!(f, "ratio {s} is outside (0, 1]"),
        }
    }
}

fn parse_decimal(s: &str) -> Option<(u64, u64)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() || frac.len() > 12 {
        return None;
    }
    let all_digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    if !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let den = 10u64.pow(frac.len() as u32);
    let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    Some((int.checked_mul(den)?.checked_add(frac)?, den))
}

impl FromStr for Ratio {
    type Err = RatioError;

    /// Accepts `0.25`, `.25`, `1`, `1/4`.
    fn from_str(s: &str) -> Result<Self, RatioError> {
        let t = s.trim();
        let (num, den) = match t.split_once('/') {
            Some((n, d)) => {
                let n: u64 = n
                    .trim()
                    .parse()
                    .map_err(|_| RatioError::Malformed(s.into()))?;
                let d: u64 = d
                    .trim()
                    .parse()
                    .map_err(|_| RatioError::Malformed(s.into()))?;
                (n, d)
            }
            None => {
                if t.starts_with('-') {
                    return Err(RatioError::OutOfRange(s.into()));
                }
                parse_decimal(t).ok_or_else(|| RatioError::Malformed(s.into()))?
            }
        };
        Ratio::new(num, den).ok_or_else(|| RatioError::OutOfRange(s.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimals_and_fractions() {
        assert_eq!("0.25".parse::<Ratio>(), Ok(Ratio::QUARTER));
        assert_eq!("1/4".parse::<Ratio>(), Ok(Ratio::QUARTER));
        assert_eq!("2/8".parse::<Ratio>(), Ok(Ratio::QUARTER));
        assert_eq!(".25".parse::<Ratio>(), Ok(Ratio::QUARTER));
        assert_eq!("1".parse::<Ratio>(), Ok(Ratio::ONE));
        assert_eq!("1/16".parse::<Ratio>().unwrap().to_string(), "1/16");
    }

    #[test]
    fn refuses_out_of_range_and_garbage() {
        for bad in ["0", "0/4", "1.5", "5/4", "-0.25", "1/0"] {
            assert!(
                matches!(bad.parse::<Ratio>(), Err(RatioError::OutOfRange(_))),
                "{bad}"
            );
        }
        for bad in ["", "a", "1/x", "0.2.5", "nan", "1e-2"] {
            assert!(
                matches!(bad.parse::<Ratio>(), Err(RatioError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn partial_channels_is_floor_like_dim_div_n() {
        assert_eq!(Ratio::QUARTER.partial_channels(96), 24);
        assert_eq!(Ratio::QUARTER.partial_channels(40), 10);
        let third: Ratio = "1/3".parse().unwrap();
        assert_eq!(third.partial_channels(96), 32);
        assert_eq!(third.partial_channels(100), 33);
        assert_eq!(Ratio::new(1, 16).unwrap().partial_channels(8), 0);
    }
}
