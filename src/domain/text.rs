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
