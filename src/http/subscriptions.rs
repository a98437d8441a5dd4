//! `GET /graphql/ws`: GraphQL subscriptions over WebSocket (both the `graphql-transport-ws`
//! and the older `graphql-ws` protocols). The connection is authenticated once, by the token
//! in the `connection_init` payload (`{"authorization": "Bearer <token>"}` or
//! `{"token": "<token>"}`); its subscriptions end when the token expires, so a client
//! reconnects with a fresh one. Queries and mutations belong on `POST /graphql`.

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use serde_json::Value;

use crate::app::AppState;
use crate::auth::{bearer_token, resolve_viewer};
use crate::domain::access::Viewer;
use crate::error::AppError;
use crate::graphql::TokenExpiry;

pub async fn upgrade(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            let schema = state.schema.clone();
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let (viewer, expires) = authenticate(&state, &payload).await?;
                    let mut data = Data::default();
                    data.insert(viewer);
                    data.insert(expires);
                    Ok(data)
                })
                .serve()
        })
}

/// The viewer named by the token of a `connection_init` payload, and when the token expires.
async fn authenticate(
    state: &AppState,
    payload: &Value,
) -> Result<(Viewer, TokenExpiry), async_graphql::Error> {
    let token = token_of(payload).ok_or_else(|| {
        AppError::Unauthenticated(
            "send {\"authorization\": \"Bearer <token>\"} as the connection_init payload".into(),
        )
    })?;
    let claims = state.keys.verify(token)?;
    let viewer = resolve_viewer(&state.stores.org, &state.users, &claims).await?;
    Ok((viewer, TokenExpiry(claims.exp)))
}

fn token_of(payload: &Value) -> Option<&str> {
    let field = |name: &str| payload.get(name).and_then(Value::as_str);
    if let Some(token) = field("token") {
        return Some(token.trim());
    }
    field("authorization")
        .or_else(|| field("Authorization"))
        .and_then(bearer_token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_token_comes_from_either_payload_shape() {
        assert_eq!(token_of(&json!({"token": "abc"})), Some("abc"));
        assert_eq!(
            token_of(&json!({"authorization": "Bearer abc"})),
            Some("abc")
        );
        assert_eq!(
            token_of(&json!({"Authorization": "bearer abc"})),
            Some("abc")
        );
        assert_eq!(token_of(&json!({"authorization": "abc"})), None);
        assert_eq!(token_of(&json!(null)), None);
    }
}
