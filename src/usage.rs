//! [`UsageError`]: a bad value the user gave (a flag, the config file), reported before
//! anything binds; `main` exits 2 for it, 1 for every other error.

/// An error the user caused with their arguments or config: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}
