//! The partial ratio `r` of PConv as an exact fraction, so that `c_p = floor(c·r)` is
//! computed in integers exactly as the authors' `dim // n_div`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

/// The fraction with the smallest denominator whose `f64` value is exactly `x`
/// (continued-fraction convergents), so that a ratio written as a float (`1/3` →
/// 0.3333333333333333) reads back as the same exact fraction.
pub fn from_f64_exact(x: f64) -> Option<Ratio> {
    if !(x > 0.0 && x <= 1.0) {
        return None;
    }
    let (mut p0, mut q0, mut p1, mut q1) = (0u64, 1u64, 1u64, 0u64);
    let mut rest = x;
    for _ in 0..64 {
        let a = rest.floor();
        if a > 1e12 {
            break;
        }
        let a = a as u64;
        let (p2, q2) = (a.checked_mul(p1)? + p0, a.checked_mul(q1)? + q0);
        if p2 as f64 / q2 as f64 == x {
            return Ratio::new(p2, q2);
        }
        (p0, q0, p1, q1) = (p1, q1, p2, q2);
        let frac = rest - a as f64;
        if frac == 0.0 {
            break;
        }
        rest = 1.0 / frac;
    }
    None
}

impl<'de> Deserialize<'de> for Ratio {
    /// A number (`0.25`, or the float of any fraction, read back exactly) or a string
    /// (`"1/4"`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Number(f64),
            Text(String),
        }
        match Wire::deserialize(d)? {
            Wire::Number(x) => from_f64_exact(x)
                .ok_or_else(|| serde::de::Error::custom(format!("{x} is not a ratio in (0, 1]"))),
            Wire::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
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
    #[test]
    fn floats_read_back_as_the_same_fraction() {
        for (n, d) in [
            (1, 3),
            (1, 4),
            (2, 3),
            (1, 16),
            (7, 9),
            (1, 1),
            (3, 10),
            (5, 1024),
        ] {
            let r = Ratio::new(n, d).unwrap();
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Ratio>(&json).unwrap(), r, "{json}");
        }
        assert_eq!(
            serde_json::from_str::<Ratio>("\"1/4\"").unwrap(),
            Ratio::QUARTER
        );
        assert!(serde_json::from_str::<Ratio>("1.5").is_err());
        assert!(serde_json::from_str::<Ratio>("0").is_err());
    }

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
