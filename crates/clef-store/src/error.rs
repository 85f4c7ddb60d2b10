/// What a store can say went wrong, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (a second user with one e-mail, …).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request does not fit the current state of what it names (acknowledging a resolved
    /// alert, a second channel to the same target). The message is written for people.
    #[error("refused: {0}")]
    Refused(String),
    /// The database is busy or unreachable for now; retrying may succeed.
    #[error("storage busy")]
    Busy(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("storage failure")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn other(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other(Box::new(e))
    }
}
