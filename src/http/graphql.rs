//! `POST /graphql`: authenticates the bearer token, registers the request's loaders, executes,
//! sanitises errors, and reports the request's SQL statements and MongoDB commands in
//! response headers.

use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::{bearer_token, resolve_viewer};
use crate::domain::access::Viewer;
use crate::error::{AppError, sanitize};
use crate::graphql::AuthFailure;
use crate::loaders;
use crate::store::metrics::RequestCounters;

/// The response header carrying the number of SQL statements the request ran.
pub const SQL_STATEMENTS_HEADER: &str = "x-goalgraph-sql-statements";
/// The response header carrying the number of MongoDB commands the request sent.
pub const MONGO_COMMANDS_HEADER: &str = "x-goalgraph-mongo-commands";

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let counters = RequestCounters::new();
    let mut response = counters
        .clone()
        .scope(async {
            let mut request = request.into_inner();
            match authenticate(&state, &headers).await {
                Ok(Some(viewer)) => {
                    request = loaders::register(request.data(viewer), &state.stores, viewer);
                }
                Ok(None) => {}
                Err(failure) => request = request.data(AuthFailure(failure)),
            }
            state.schema.execute(request).await
        })
        .await;
    sanitize(&mut response.errors);
    let mut http = GraphQLResponse::from(response).into_response();
    for (name, count) in [
        (SQL_STATEMENTS_HEADER, counters.sql_statements()),
        (MONGO_COMMANDS_HEADER, counters.mongo_commands()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&count.to_string()) {
            http.headers_mut().insert(name, value);
        }
    }
    http
}

/// The viewer of a request: none without a token, an error for a bad one.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<Viewer>, AppError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(bearer_token)
        .ok_or_else(|| AppError::Unauthenticated("use Authorization: Bearer <token>".into()))?;
    let claims = state.keys.verify(token)?;
    resolve_viewer(&state.stores.org, &claims).await.map(Some)
}
