//! Automatic persisted queries (Apollo's protocol, version 1): a client sends
//! `extensions.persistedQuery.sha256Hash` without the query text; an unknown hash gets
//! PERSISTED_QUERY_NOT_FOUND, and the client's retry with the text registers it, for every
//! replica when the registry is in Redis.

use crate::error::code;
use async_graphql::{ServerError, Value};
use sha2::{Digest, Sha256};

use crate::graphql::limits::rejection;
use crate::store::shared::SharedState;

/// Fills in `request.query` from the registry when the client sent only a hash, and
/// registers the text when it sent both (after checking the hash).
pub async fn resolve(
    shared: &SharedState,
    request: &mut async_graphql::Request,
) -> Result<(), ServerError> {
    let Some(persisted) = request.extensions.get("persistedQuery") else {
        return Ok(());
    };
    let Value::Object(persisted) = persisted else {
        return Err(invalid());
    };
    let version = persisted.get("version").and_then(|v| match v {
        Value::Number(n) => n.as_i64(),
        _ => None,
    });
    if version != Some(1) {
        return Err(rejection(
            code::PERSISTED_QUERY_NOT_SUPPORTED,
            "only version 1 of persisted queries is supported",
        ));
    }
    let hash = match persisted.get("sha256Hash") {
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            hash.to_ascii_lowercase()
        }
        _ => return Err(invalid()),
    };
    if request.query.trim().is_empty() {
        return match shared.persisted_query(&hash).await {
            Some(query) => {
                request.query = query;
                Ok(())
            }
            // Apollo clients look for this exact message to retry with the query text.
            None => Err(rejection(
                code::PERSISTED_QUERY_NOT_FOUND,
                "PersistedQueryNotFound",
            )),
        };
    }
    if sha256_hex(&request.query) != hash {
        return Err(rejection(
            code::PERSISTED_QUERY_HASH_MISMATCH,
            "sha256Hash is not the SHA-256 of the query text",
        ));
    }
    shared.register_query(&hash, &request.query).await;
    Ok(())
}

fn invalid() -> ServerError {
    rejection(
        code::BAD_REQUEST,
        "extensions.persistedQuery must be {\"version\": 1, \"sha256Hash\": \"<64 hex digits>\"}",
    )
}

/// The lowercase hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_lowercase_hex_sha256() {
        assert_eq!(
            sha256_hex("{__typename}"),
            "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"
        );
    }
}
