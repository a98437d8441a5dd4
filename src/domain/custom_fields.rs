//! Tenant-defined custom fields: their definitions (a template) and the validation of values
//! against them. Values are scalars only, so a value can never carry a query operator.

use std::collections::BTreeMap;

use super::DomainError;

/// The most fields a template may define.
pub const MAX_FIELDS: usize = 100;
/// The longest string value.
pub const MAX_STRING: usize = 2_000;

/// The type of a custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    String,
    Number,
    Boolean,
    /// An ISO date, `YYYY-MM-DD`.
    Date,
    /// One of the definition's allowed values.
    Enum,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Enum => "enum",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::String,
            Self::Number,
            Self::Boolean,
            Self::Date,
            Self::Enum,
        ]
        .into_iter()
        .find(|t| t.as_str() == raw)
    }
}

/// One custom field of a template.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDefinition {
    pub key: String,
    pub field_type: FieldType,
    pub required: bool,
    pub allowed_values: Vec<String>,
}

/// A validated custom-field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    String(String),
    Number(f64),
    Boolean(bool),
}

/// Checks a template's definitions: keys are identifiers (so never `$…` or dotted paths),
/// unique, and enums list their allowed values.
pub fn check_definitions(definitions: &[FieldDefinition]) -> Result<(), DomainError> {
    if definitions.len() > MAX_FIELDS {
        return Err(DomainError::invalid(
            "fields",
            format!("at most {MAX_FIELDS} fields"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for definition in definitions {
        if !is_identifier(&definition.key) {
            return Err(DomainError::invalid(
                "fields",
                format!(
                    "key {:?} must start with a lowercase letter and hold only a-z, 0-9 and _ (at most 64)",
                    definition.key
                ),
            ));
        }
        if !seen.insert(definition.key.as_str()) {
            return Err(DomainError::invalid(
                "fields",
                format!("key {:?} is defined twice", definition.key),
            ));
        }
        if definition.field_type == FieldType::Enum && definition.allowed_values.is_empty() {
            return Err(DomainError::invalid(
                "fields",
                format!("enum field {:?} needs allowedValues", definition.key),
            ));
        }
    }
    Ok(())
}

/// Whether `key` can name a custom field: a lowercase identifier of at most 64 characters, so
/// never an operator (`$…`) nor a dotted path.
pub fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some('a'..='z'))
        && key.len() <= 64
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// Validates `values` (a JSON object) against `definitions`; on failure every bad field is
/// named, each with its reason.
pub fn validate(
    definitions: &[FieldDefinition],
    values: &serde_json::Value,
) -> Result<BTreeMap<String, FieldValue>, Vec<(String, String)>> {
    let Some(object) = values.as_object() else {
        return Err(vec![(
            "fields".into(),
            "must be an object of field values".into(),
        )]);
    };
    let mut problems = Vec::new();
    let mut valid = BTreeMap::new();
    for (key, value) in object {
        let Some(definition) = definitions.iter().find(|d| &d.key == key) else {
            problems.push((
                key.clone(),
                "is not a field of this tenant's template".into(),
            ));
            continue;
        };
        if value.is_null() {
            if definition.required {
                problems.push((key.clone(), "is required".into()));
            }
            continue;
        }
        match check_value(definition, value) {
            Ok(value) => {
                valid.insert(key.clone(), value);
            }
            Err(reason) => problems.push((key.clone(), reason)),
        }
    }
    for definition in definitions.iter().filter(|d| d.required) {
        if !object.contains_key(&definition.key) {
            problems.push((definition.key.clone(), "is required".into()));
        }
    }
    if problems.is_empty() {
        Ok(valid)
    } else {
        Err(problems)
    }
}

fn check_value(
    definition: &FieldDefinition,
    value: &serde_json::Value,
) -> Result<FieldValue, String> {
    use serde_json::Value as J;
    match (definition.field_type, value) {
        (FieldType::String, J::String(s)) if s.chars().count() <= MAX_STRING => {
            Ok(FieldValue::String(s.clone()))
        }
        (FieldType::String, J::String(_)) => {
            Err(format!("must be at most {MAX_STRING} characters"))
        }
        (FieldType::Number, J::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(FieldValue::Number)
            .ok_or_else(|| "must be a finite number".into()),
        (FieldType::Boolean, J::Bool(b)) => Ok(FieldValue::Boolean(*b)),
        (FieldType::Date, J::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(|_| FieldValue::String(s.clone()))
            .map_err(|_| "must be a date written YYYY-MM-DD".into()),
        (FieldType::Enum, J::String(s)) if definition.allowed_values.contains(s) => {
            Ok(FieldValue::String(s.clone()))
        }
        (FieldType::Enum, _) => Err(format!(
            "must be one of {}",
            definition.allowed_values.join(", ")
        )),
        (expected, _) => Err(format!("must be a {}", expected.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template() -> Vec<FieldDefinition> {
        vec![
            FieldDefinition {
                key: "region".into(),
                field_type: FieldType::Enum,
                required: true,
                allowed_values: vec!["EMEA".into(), "APAC".into()],
            },
            FieldDefinition {
                key: "budget".into(),
                field_type: FieldType::Number,
                required: false,
                allowed_values: vec![],
            },
            FieldDefinition {
                key: "launch".into(),
                field_type: FieldType::Date,
                required: false,
                allowed_values: vec![],
            },
        ]
    }

    #[test]
    fn valid_values_pass_as_scalars() {
        let values = validate(
            &template(),
            &json!({ "region": "EMEA", "budget": 12.5, "launch": "2027-02-01" }),
        )
        .expect("valid");
        assert_eq!(values["budget"], FieldValue::Number(12.5));
    }

    #[test]
    fn every_bad_field_is_named() {
        let problems = validate(
            &template(),
            &json!({ "budget": "lots", "launch": "soon", "colour": "red" }),
        )
        .expect_err("invalid");
        let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys.len(), 4, "{problems:?}");
        for key in ["budget", "launch", "colour", "region"] {
            assert!(keys.contains(&key), "{key} missing from {problems:?}");
        }
    }

    #[test]
    fn an_operator_shaped_value_is_refused_not_executed() {
        let problems =
            validate(&template(), &json!({ "region": { "$gt": "" } })).expect_err("invalid");
        assert_eq!(problems[0].0, "region");
        let problems = validate(&template(), &json!({ "$where": "1" })).expect_err("invalid");
        assert_eq!(problems[0].0, "$where");
    }

    #[test]
    fn definitions_need_identifier_keys_and_enum_values() {
        let bad_key = FieldDefinition {
            key: "$set".into(),
            field_type: FieldType::String,
            required: false,
            allowed_values: vec![],
        };
        assert!(check_definitions(&[bad_key]).is_err());
        let dotted = FieldDefinition {
            key: "a.b".into(),
            field_type: FieldType::String,
            required: false,
            allowed_values: vec![],
        };
        assert!(check_definitions(&[dotted]).is_err());
        let empty_enum = FieldDefinition {
            key: "tier".into(),
            field_type: FieldType::Enum,
            required: false,
            allowed_values: vec![],
        };
        assert!(check_definitions(&[empty_enum]).is_err());
        assert!(check_definitions(&template()).is_ok());
    }
}
