//! goalgraph's own scalars: `Date`, a calendar day written as RFC 3339's `full-date`
//! (`2027-01-31`), in place of chrono's `NaiveDate` (a Rust type's name, not a date's).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar day without a time or a zone, as `YYYY-MM-DD` (RFC 3339 `full-date`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar day without a time or a zone, as `YYYY-MM-DD` (RFC 3339 `full-date`).
#[Scalar(
    name = "Date",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Date)
            .map_err(|_| InputValueError::custom(format!("`{text}` is not a date (YYYY-MM-DD)")))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_as_full_dates() {
        let date = Date::parse(Value::String("2027-01-31".into())).expect("a date");
        assert_eq!(date.to_value(), Value::String("2027-01-31".into()));
        assert!(Date::parse(Value::String("2027-02-30".into())).is_err());
        assert!(Date::parse(Value::String("31/01/2027".into())).is_err());
        assert!(Date::parse(Value::Number(20270131.into())).is_err());
    }
}
