//! Feature-map shapes (`CxHxW`), element types, and the limits that keep sizes sane.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest channel count accepted anywhere.
pub const MAX_CHANNELS: usize = 1 << 16;
/// Largest height or width accepted.
pub const MAX_SPATIAL: usize = 1 << 14;
/// Largest number of elements in one feature map (per item).
pub const MAX_ELEMENTS: usize = 1 << 32;
/// Largest kernel size accepted.
pub const MAX_KERNEL: usize = 63;
/// Largest stack depth (`--layers`).
pub const MAX_LAYERS: usize = 1000;
/// Largest batch size.
pub const MAX_BATCH: usize = 1 << 16;

/// The shape of one item's feature map: channels × height × width (NCHW without N).
/// Vectors (after flatten or linear) are `c×1×1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape {
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

impl Shape {
    /// A `c×h×w` shape.
    pub const fn new(c: usize, h: usize, w: usize) -> Self {
        Shape { c, h, w }
    }

    /// Number of elements per item.
    pub fn elements(&self) -> u64 {
        (self.c * self.h * self.w) as u64
    }

    /// Checks that every dimension is non-zero and within the limits; `flag` names the
    /// flag the shape came from.
    pub fn validate(&self, flag: &str) -> Result<()> {
        if self.c == 0 || self.h == 0 || self.w == 0 {
            return Err(Error::flag(
                flag,
                format!("shape {self} has a zero dimension; every dimension must be ≥ 1"),
            ));
        }
        if self.c > MAX_CHANNELS {
            return Err(Error::flag(
                flag,
                format!(
                    "{} channels is more than the limit of {MAX_CHANNELS}",
                    self.c
                ),
            ));
        }
        if self.h > MAX_SPATIAL || self.w > MAX_SPATIAL {
            return Err(Error::flag(
                flag,
                format!("shape {self}: height and width must be ≤ {MAX_SPATIAL}"),
            ));
        }
        if self.c * self.h * self.w > MAX_ELEMENTS {
            return Err(Error::flag(
                flag,
                format!("shape {self} has more than {MAX_ELEMENTS} elements per item"),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.c, self.h, self.w)
    }
}

impl FromStr for Shape {
    type Err = String;

    /// Parses `CxHxW` (also `C×H×W`), e.g. `96x56x56`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let parts: Vec<&str> = s.trim().split(['x', 'X', '×']).collect();
        if parts.len() != 3 {
            return Err(format!(
                "'{s}' is not a shape; expected CxHxW such as 96x56x56"
            ));
        }
        let mut dims = [0usize; 3];
        for (dim, part) in dims.iter_mut().zip(&parts) {
            *dim = part.trim().parse().map_err(|_| {
                format!("'{s}' is not a shape: '{part}' is not a whole number; expected CxHxW such as 96x56x56")
            })?;
        }
        Ok(Shape::new(dims[0], dims[1], dims[2]))
    }
}

/// Element type of weights and activations.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// IEEE 754 single precision (the paper's protocol).
    #[default]
    F32,
    /// IEEE 754 half precision.
    F16,
    /// bfloat16.
    Bf16,
    /// Static int8 quantization: unsigned 8-bit asymmetric activations, signed 8-bit
    /// symmetric per-channel weights, int32 bias (QDQ graphs).
    Int8,
}

impl Dtype {
    /// Bytes per element.
    pub fn size_bytes(self) -> u64 {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::Int8 => 1,
        }
    }

    /// Lower-case name as used on the command line and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
            Dtype::Int8 => "int8",
        }
    }

    /// Every element type, in the order sweeps run them.
    pub const ALL: [Dtype; 4] = [Dtype::F32, Dtype::F16, Dtype::Bf16, Dtype::Int8];
}

impl std::str::FromStr for Dtype {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let wanted = s.trim().to_lowercase();
        Dtype::ALL
            .into_iter()
            .find(|d| d.as_str() == wanted)
            .ok_or_else(|| format!("'{s}' is not a dtype; expected one of f32, f16, bf16, int8"))
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_shapes() {
        assert_eq!("96x56x56".parse::<Shape>(), Ok(Shape::new(96, 56, 56)));
        assert_eq!("768×7×7".parse::<Shape>(), Ok(Shape::new(768, 7, 7)));
        assert!("96x56".parse::<Shape>().is_err());
        assert!("96xax56".parse::<Shape>().is_err());
        assert!("-1x5x5".parse::<Shape>().is_err());
    }

    #[test]
    fn validates_limits() {
        assert!(Shape::new(96, 56, 56).validate("--shape").is_ok());
        assert!(Shape::new(0, 56, 56).validate("--shape").is_err());
        assert!(Shape::new(1 << 17, 1, 1).validate("--shape").is_err());
        assert!(Shape::new(4096, 4096, 4096).validate("--shape").is_err());
    }
}
