//! A backend known by name but not compiled into this build: it says how to get it.

use crate::backend::{Backend, Prepared, Settings};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::model::Model;

/// A backend of this name that is not part of this build, with how to get it.
pub(super) struct Missing {
    name: &'static str,
    how: &'static str,
}

/// libtorch through tch, in a build without `--features tch`.
pub(super) static TCH: Missing = Missing {
    name: "tch",
    how: "not compiled into this binary: run scripts/setup-libtorch, then build with \
          `cargo build --release --features tch` and the LIBTORCH it prints",
};

impl Missing {
    /// Why it cannot run: how to build it in, or, in a binary cross-built for devices, that
    /// such builds leave it out.
    fn why(&self) -> String {
        match (env!("FLOPSBENCH_CROSS_BUILT"), std::env::consts::ARCH) {
            ("0", _) => self.how.to_string(),
            (_, arch) => format!(
                "not compiled into this {arch} binary: the {arch} build (cross-built for \
                 devices) is made without `--features tch`, and the libtorch \
                 scripts/setup-libtorch installs is for the machine that runs the script"
            ),
        }
    }
}

impl Backend for Missing {
    fn name(&self) -> &'static str {
        self.name
    }
    fn version(&self) -> String {
        String::new()
    }
    fn probe(&self, _: &DeviceSpec) -> std::result::Result<(), String> {
        Err(self.why())
    }
    fn prepare(&self, _: &Model, _: &DeviceSpec, _: &Settings) -> Result<Box<dyn Prepared>> {
        Err(Error::Backend {
            backend: self.name.into(),
            message: self.why(),
        })
    }
}
