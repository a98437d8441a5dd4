//! Business-rule violations, each naming the input field it concerns.

/// A rule of the domain was broken by the caller's input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// A field's value is outside what the domain accepts.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// Re-parenting would place an objective under itself or one of its descendants.
    #[error("an objective cannot be moved under itself or one of its descendants")]
    AlignmentCycle,
}

impl DomainError {
    /// Shorthand for [`DomainError::Invalid`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// The input field this error is about, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            Self::AlignmentCycle => Some("parentId"),
        }
    }
}
