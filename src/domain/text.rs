//! Validation of free text and numbers that arrive from clients.

use super::DomainError;

/// Trims `raw` and checks it is between 1 and `max` characters with no control characters.
pub fn required_text(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    optional_text(field, trimmed, max)
}

/// Like [`required_text`] but empty is allowed (descriptions); newlines and tabs are kept.
pub fn optional_text(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Declares a validated text newtype whose bounds match the database's CHECK on the columns
/// that store it (a test compares them with the live constraints).
macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, min = $min:expr, max = $max:expr, $check:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// The fewest characters allowed.
            pub const MIN: usize = $min;
            /// The most characters allowed.
            pub const MAX: usize = $max;

            /// Trims `raw` and checks its length and characters; errors name `field`.
            pub fn parse(field: &'static str, raw: &str) -> Result<Self, DomainError> {
                let text = $check(field, raw, Self::MAX)?;
                if text.chars().count() < Self::MIN {
                    return Err(DomainError::invalid(
                        field,
                        format!("must be at least {} characters", Self::MIN),
                    ));
                }
                Ok(Self(text))
            }

            /// The validated text.
            pub fn into_inner(self) -> String {
                self.0
            }
        }
    };
}

bounded_text!(
    /// An objective's or key result's title: 1 to 300 characters.
    Title, min = 1, max = 300, required_text
);
bounded_text!(
    /// The name of a tenant, team, user or cycle: 1 to 200 characters.
    Name, min = 1, max = 200, required_text
);
bounded_text!(
    /// A user's email address: 3 to 320 characters (checked for an `@` by its parser).
    EmailText, min = 3, max = 320, required_text
);
bounded_text!(
    /// An objective's description: up to 20,000 characters, may be empty.
    Description, min = 0, max = 20_000, optional_text
);
bounded_text!(
    /// A progress note or comment: 1 to 20,000 characters (stored in MongoDB).
    NoteBody, min = 1, max = 20_000, required_text
);

/// A finite number (no NaN or infinity), within ±1e15 so sums of many stay exact enough.
pub fn finite(field: &'static str, value: f64) -> Result<f64, DomainError> {
    if !value.is_finite() || value.abs() > 1e15 {
        return Err(DomainError::invalid(
            field,
            "must be a finite number between -1e15 and 1e15",
        ));
    }
    Ok(value)
}

/// A weight: finite, greater than 0 and at most 1000.
pub fn weight(field: &'static str, value: f64) -> Result<f64, DomainError> {
    let value = finite(field, value)?;
    if value <= 0.0 || value > 1000.0 {
        return Err(DomainError::invalid(
            field,
            "must be greater than 0 and at most 1000",
        ));
    }
    Ok(value)
}

/// A confidence: between 0 and 1 inclusive.
pub fn confidence(field: &'static str, value: f64) -> Result<f64, DomainError> {
    let value = finite(field, value)?;
    if !(0.0..=1.0).contains(&value) {
        return Err(DomainError::invalid(field, "must be between 0 and 1"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_must_not_be_blank() {
        assert_eq!(
            required_text("title", "  Grow  ", 10).as_deref(),
            Ok("Grow")
        );
        assert!(required_text("title", "   ", 10).is_err());
        assert!(required_text("title", "x".repeat(11).as_str(), 10).is_err());
        assert!(required_text("title", "a\u{0}b", 10).is_err());
    }

    #[test]
    fn weights_must_be_positive_and_finite() {
        assert!(weight("weight", 0.0).is_err());
        assert!(weight("weight", -1.0).is_err());
        assert!(weight("weight", f64::NAN).is_err());
        assert!(weight("weight", f64::INFINITY).is_err());
        assert_eq!(weight("weight", 2.5), Ok(2.5));
    }

    #[test]
    fn confidence_is_a_probability() {
        assert!(confidence("confidence", 1.01).is_err());
        assert!(confidence("confidence", -0.01).is_err());
        assert_eq!(confidence("confidence", 0.0), Ok(0.0));
        assert_eq!(confidence("confidence", 1.0), Ok(1.0));
    }
}
