//! The one error type resolvers surface, and its single mapping to the wire: a GraphQL error
//! whose `extensions.code` is one of BAD_USER_INPUT, NOT_FOUND, FORBIDDEN, UNAUTHENTICATED,
//! CONFLICT or INTERNAL, or the code of the limit a request exceeds.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql converts any `Display`
//! type into an error carrying its text, and that blanket conversion would bypass this mapping.
//! Internal details are logged here and replaced by "internal error" on the wire.

use async_graphql::{ErrorExtensions, ServerError};

/// Every `extensions.code` goalgraph answers with (the README's error table lists each with
/// its meaning). Nothing else sets a code.
pub mod code {
    /// The input is invalid; `extensions.field` or `extensions.fields` say which.
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    /// The object does not exist, or the caller may not know it exists.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// Authenticated, but the role does not allow this.
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// No valid bearer token.
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// The write conflicts with the current state (stale version, duplicate, has children).
    pub const CONFLICT: &str = "CONFLICT";
    /// Something failed inside; the detail is logged, never sent.
    pub const INTERNAL: &str = "INTERNAL";
    /// The HTTP request is not a GraphQL request goalgraph can read.
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// A list argument asks for more items than one page may hold.
    pub const PAGE_TOO_LARGE: &str = "PAGE_TOO_LARGE";
    /// The query nests selections deeper than allowed.
    pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
    /// The query's estimated cost exceeds the limit.
    pub const NODE_LIMIT_EXCEEDED: &str = "NODE_LIMIT_EXCEEDED";
    /// The document uses more aliases than allowed.
    pub const TOO_MANY_ALIASES: &str = "TOO_MANY_ALIASES";
    /// The batch holds more operations than allowed.
    pub const BATCH_TOO_LARGE: &str = "BATCH_TOO_LARGE";
    /// The body is larger than allowed.
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    /// The tenant's budget of query-cost points lacks this request's cost for now.
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// The request ran longer than allowed and was cancelled.
    pub const TIMEOUT: &str = "TIMEOUT";
    /// The persisted-query hash is not registered (send the query with it once).
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    /// The persisted-query extension is malformed or its version unknown.
    pub const PERSISTED_QUERY_NOT_SUPPORTED: &str = "PERSISTED_QUERY_NOT_SUPPORTED";
    /// The query sent does not hash to the persisted-query hash sent with it.
    pub const PERSISTED_QUERY_HASH_MISMATCH: &str = "PERSISTED_QUERY_HASH_MISMATCH";
    /// A POST body that is not `application/json` (HTTP 415).
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    /// The `Accept` header allows neither `application/json` nor
    /// `application/graphql-response+json` (HTTP 406).
    pub const NOT_ACCEPTABLE: &str = "NOT_ACCEPTABLE";
    /// A mutation (or subscription) sent with GET, which only runs queries (HTTP 405).
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// A WebSocket connection already holds its most subscriptions.
    pub const TOO_MANY_SUBSCRIPTIONS: &str = "TOO_MANY_SUBSCRIPTIONS";
}

use crate::domain::DomainError;
use crate::store::StoreError;

/// What went wrong, as far as a client needs to know.
#[derive(Debug, Clone, PartialEq)]
pub enum AppError {
    /// The input is invalid; `field` names the offending argument or input field.
    BadUserInput {
        message: String,
        field: Option<&'static str>,
    },
    /// Several named input fields are invalid, each for its own reason.
    InvalidFields(Vec<(String, String)>),
    /// The thing does not exist, or the caller may not know it exists.
    NotFound { what: &'static str },
    /// Authenticated, but the role does not allow this.
    Forbidden(String),
    /// No valid token.
    Unauthenticated(String),
    /// The write conflicts with the current state.
    Conflict(String),
    /// The request asks for more than a limit allows; `code` names the limit.
    LimitExceeded { code: &'static str, message: String },
    /// Anything else; the detail is logged, never sent.
    Internal(String),
}

impl AppError {
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            message: message.into(),
            field: Some(field),
        }
    }

    /// The `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadUserInput { .. } | AppError::InvalidFields(_) => code::BAD_USER_INPUT,
            AppError::NotFound { .. } => code::NOT_FOUND,
            AppError::Forbidden(_) => code::FORBIDDEN,
            AppError::Unauthenticated(_) => code::UNAUTHENTICATED,
            AppError::Conflict(_) => code::CONFLICT,
            AppError::LimitExceeded { code, .. } => code,
            AppError::Internal(_) => code::INTERNAL,
        }
    }

    /// The message a client sees.
    pub fn public_message(&self) -> String {
        match self {
            AppError::BadUserInput { message, .. } => message.clone(),
            AppError::InvalidFields(problems) => problems
                .iter()
                .map(|(field, reason)| format!("{field} {reason}"))
                .collect::<Vec<_>>()
                .join("; "),
            AppError::NotFound { what } => format!("{what} not found"),
            AppError::Forbidden(message)
            | AppError::Unauthenticated(message)
            | AppError::Conflict(message)
            | AppError::LimitExceeded { message, .. } => message.clone(),
            AppError::Internal(_) => "internal error".into(),
        }
    }
}

impl From<DomainError> for AppError {
    fn from(err: DomainError) -> Self {
        let field = err.field();
        AppError::BadUserInput {
            message: err.to_string(),
            field,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(field) => AppError::NotFound { what: field },
            StoreError::Conflict(message) => AppError::Conflict(message),
            StoreError::Domain(err) => err.into(),
            StoreError::Db(err) => AppError::Internal(err.to_string()),
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        if let AppError::Internal(detail) = &err {
            tracing::error!(error = %detail, "internal error");
        }
        let code = err.code();
        let field = match &err {
            AppError::BadUserInput { field, .. } => *field,
            _ => None,
        };
        let invalid: Vec<async_graphql::Value> = match &err {
            AppError::InvalidFields(problems) => problems
                .iter()
                .map(|(field, reason)| {
                    let mut entry = async_graphql::indexmap::IndexMap::new();
                    entry.insert(async_graphql::Name::new("field"), field.clone().into());
                    entry.insert(async_graphql::Name::new("reason"), reason.clone().into());
                    async_graphql::Value::Object(entry)
                })
                .collect(),
            _ => Vec::new(),
        };
        async_graphql::Error::new(err.public_message()).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(field) = field {
                ext.set("field", field);
            }
            if !invalid.is_empty() {
                ext.set("fields", async_graphql::Value::List(invalid.clone()));
            }
        })
    }
}

impl From<crate::store::mongo::MongoError> for AppError {
    fn from(err: crate::store::mongo::MongoError) -> Self {
        AppError::Internal(err.to_string())
    }
}

/// Result type of resolvers and services.
pub type AppResult<T> = Result<T, AppError>;

/// The last line of defence, applied to every response: an error without a code did not come
/// through [`AppError`] (a stray `?` on a foreign error), so its text is logged and replaced.
/// Errors about the request itself (parse, validation, argument coercion) keep their message,
/// which describes the query, and get BAD_USER_INPUT.
pub fn sanitize(errors: &mut [ServerError]) {
    for error in errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if has_code {
            continue;
        }
        if let Some((code, message)) = crate::graphql::limits::explain(error) {
            error.message = message;
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", code);
            continue;
        }
        let about_the_request = error.path.is_empty()
            || error.message.starts_with("Failed to parse")
            || error.message.starts_with("Invalid value for argument")
            || error.message.starts_with("Expected input type")
            || error.message.starts_with("Internal: Failed to parse");
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if about_the_request {
            extensions.set("code", code::BAD_USER_INPUT);
        } else {
            tracing::error!(error = %error.message, path = ?error.path, "uncoded resolver error");
            error.message = "internal error".into();
            extensions.set("code", code::INTERNAL);
        }
    }
}
