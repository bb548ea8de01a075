//! The library's error type: every failure a user can cause or meet, with the flag, file
//! or name that fixes it, and the process exit code it maps to.

use std::path::PathBuf;

/// Everything that can go wrong in flopsbench.
///
/// Usage errors (a bad flag value, an unknown name, an impossible shape) map to exit
/// code 2; the messages name the flag so the user knows what to change.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag's value is malformed or out of range.
    #[error("{flag}: {message}")]
    InvalidFlag {
        /// The flag as typed on the command line, e.g. `--ratio`.
        flag: String,
        /// What is wrong and, where possible, what would be accepted.
        message: String,
    },

    /// Two flags or arguments that cannot be used together, or one that is missing.
    #[error("{0}")]
    Usage(String),

    /// A name (network, operator, backend, device) that flopsbench does not know.
    #[error("unknown {what} '{name}'{}", suggestion_text(.suggestion.as_deref(), .known))]
    UnknownName {
        /// What kind of name it is, e.g. `network`.
        what: &'static str,
        /// The name as given.
        name: String,
        /// The closest known name, if one is close enough.
        suggestion: Option<String>,
        /// All known names, listed when there is no close one.
        known: Vec<String>,
    },

    /// A shape that cannot be computed: a kernel larger than its padded input, a
    /// feature map that shrinks to nothing, channels a group count does not divide.
    #[error("{flag}: {message}")]
    Shape {
        /// The flag whose value produced the shape (`--shape`, `--resolution`, ...).
        flag: String,
        /// Which layer fails and why.
        message: String,
    },

    /// A backend failed to prepare or run a case.
    #[error("{backend}: {message}")]
    Backend {
        /// The backend's name.
        backend: String,
        /// Its message.
        message: String,
    },

    /// A backend's output differs from the reference by more than the tolerance.
    #[error(
        "output differs from the {reference} reference: max abs error {max_abs_err:.3e}, relative {relative:.3e} > tolerance {tolerance:.0e}"
    )]
    Mismatch {
        /// What the output was compared with.
        reference: String,
        /// Largest absolute difference.
        max_abs_err: f64,
        /// That, relative to the largest reference magnitude.
        relative: f64,
        /// The tolerance it exceeded.
        tolerance: f64,
    },

    /// A file given as input (a results CSV, a suite, a devices file) is malformed.
    #[error("{}{}: {message}", .path.display(), .line.map(|l| format!(":{l}")).unwrap_or_default())]
    InputFile {
        /// The file.
        path: PathBuf,
        /// 1-based line, where known.
        line: Option<u64>,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// Writing output failed.
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        /// The file or stream being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Serialising a result failed (a bug, not a user error).
    #[error("cannot serialise {what}: {message}")]
    Serialise {
        /// What was being serialised.
        what: &'static str,
        /// The serialiser's message.
        message: String,
    },
}

fn suggestion_text(suggestion: Option<&str>, known: &[String]) -> String {
    match suggestion {
        Some(s) => format!("; did you mean '{s}'?"),
        None if known.is_empty() => String::new(),
        None => format!("; known: {}", known.join(", ")),
    }
}

impl Error {
    /// Shorthand for [`Error::InvalidFlag`].
    pub fn flag(flag: &str, message: impl Into<String>) -> Self {
        Error::InvalidFlag {
            flag: flag.to_string(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Shape`].
    pub fn shape(flag: &str, message: impl Into<String>) -> Self {
        Error::Shape {
            flag: flag.to_string(),
            message: message.into(),
        }
    }

    /// An unknown name with the closest known one suggested (Jaro-Winkler ≥ 0.8).
    pub fn unknown<S: AsRef<str>>(what: &'static str, name: &str, known: &[S]) -> Self {
        let known: Vec<String> = known.iter().map(|s| s.as_ref().to_string()).collect();
        let suggestion = known
            .iter()
            .map(|k| (strsim::jaro_winkler(&name.to_lowercase(), k), k))
            .filter(|(score, _)| *score >= 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k.clone());
        Error::UnknownName {
            what,
            name: name.to_string(),
            suggestion,
            known,
        }
    }

    /// The process exit code for this error: 2 for usage and input errors, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::InvalidFlag { .. }
            | Error::Usage(_)
            | Error::UnknownName { .. }
            | Error::Shape { .. }
            | Error::InputFile { .. } => 2,
            Error::Io { .. }
            | Error::Serialise { .. }
            | Error::Backend { .. }
            | Error::Mismatch { .. } => 1,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_name_suggests_the_closest() {
        let e = Error::unknown("network", "fasternet-x0", &["fasternet-t0", "resnet18"]);
        assert_eq!(
            e.to_string(),
            "unknown network 'fasternet-x0'; did you mean 'fasternet-t0'?"
        );
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn unknown_name_without_a_close_one_lists_all() {
        let e = Error::unknown("network", "vgg", &["resnet18", "resnet50"]);
        assert_eq!(
            e.to_string(),
            "unknown network 'vgg'; known: resnet18, resnet50"
        );
    }
}
