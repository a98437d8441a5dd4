//! goalgraph's own scalars: `Date`, a calendar day written as RFC 3339's `full-date`
//! (`2027-01-31`), in place of chrono's `NaiveDate` (a Rust type's name, not a date's); and
//! `DateTime`, an instant as RFC 3339's `date-time`, written and read exactly as async-graphql's
//! chrono scalar did, with a description and `@specifiedBy` of its own.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, Utc};

/// An instant, as an RFC 3339 `date-time` with its offset (`2026-11-30T14:20:06.054439+00:00`);
/// goalgraph writes UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub chrono::DateTime<Utc>);

/// An instant, as an RFC 3339 `date-time` with its offset (`2026-11-30T14:20:06.054439+00:00`);
/// goalgraph writes UTC.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for Timestamp {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        text.parse::<chrono::DateTime<Utc>>()
            .map(Timestamp)
            .map_err(|_| InputValueError::custom(format!("`{text}` is not an RFC 3339 date-time")))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

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
    fn instants_are_written_as_async_graphql_wrote_them() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-30T14:20:06.054439+00:00")
            .expect("instant")
            .with_timezone(&Utc);
        assert_eq!(
            Timestamp(at).to_value(),
            async_graphql::ScalarType::to_value(&at)
        );
        let parsed = Timestamp::parse(Value::String("2026-11-30T15:20:06+01:00".into()));
        assert_eq!(
            parsed.expect("parses").0.to_rfc3339(),
            "2026-11-30T14:20:06+00:00"
        );
        assert!(Timestamp::parse(Value::String("yesterday".into())).is_err());
    }

    #[test]
    fn dates_round_trip_as_full_dates() {
        let date = Date::parse(Value::String("2027-01-31".into())).expect("a date");
        assert_eq!(date.to_value(), Value::String("2027-01-31".into()));
        assert!(Date::parse(Value::String("2027-02-30".into())).is_err());
        assert!(Date::parse(Value::String("31/01/2027".into())).is_err());
        assert!(Date::parse(Value::Number(20270131.into())).is_err());
    }
}
