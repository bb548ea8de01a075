//! What kind of case a row measures: an operator stack of one kind, a network, or one of
//! the device's ceilings (`peak`). Written to files as the lower-case names `conv`,
//! `gconv`, `dwconv`, `pconv`, `pwconv`, `net` and `peak`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::spec::OpKind;

/// The kind of a measured case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaseKind {
    /// A stack of one operator kind.
    Op(OpKind),
    /// A whole network.
    Net,
    /// A ceiling of the device (`flopsbench peak`).
    Peak,
}

impl CaseKind {
    /// The name written to files.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Op(k) => k.as_str(),
            CaseKind::Net => "net",
            CaseKind::Peak => "peak",
        }
    }
}

impl fmt::Display for CaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "net" => Ok(CaseKind::Net),
            "peak" => Ok(CaseKind::Peak),
            other => other.parse::<OpKind>().map(CaseKind::Op).map_err(|_| {
                Error::unknown(
                    "kind",
                    other,
                    &["conv", "gconv", "dwconv", "pconv", "pwconv", "net", "peak"],
                )
            }),
        }
    }
}

impl PartialEq<OpKind> for CaseKind {
    fn eq(&self, other: &OpKind) -> bool {
        *self == CaseKind::Op(*other)
    }
}

serde_as_text!(CaseKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in OpKind::ALL
            .iter()
            .map(|k| CaseKind::Op(*k))
            .chain([CaseKind::Net, CaseKind::Peak])
        {
            assert_eq!(k.as_str().parse::<CaseKind>().unwrap(), k);
        }
        assert!("netz".parse::<CaseKind>().is_err());
    }
}
