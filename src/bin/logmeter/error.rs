//! How a command failed, and the exit status that says so.

/// Why a command failed. Bad data never fails a command: it is quarantined and counted.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The invocation or the settings are wrong (exit status 2): nothing was delivered.
    #[error("{0}")]
    Usage(String),
    /// The command ran and could not finish (exit status 1): a file, a delivery, the search mirror.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// A usage or settings error from anything that says what is wrong.
    pub fn usage(e: impl std::fmt::Display) -> Self {
        Self::Usage(e.to_string())
    }

    /// A failure from anything that says what went wrong.
    pub fn failed(e: impl std::fmt::Display) -> Self {
        Self::Failed(e.to_string())
    }

    /// The process's exit status.
    pub fn code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Failed(_) => 1,
        }
    }
}
