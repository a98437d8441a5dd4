//! `POST /graphql`: reads a request or a batch of up to `limits::MAX_BATCH` (within the body
//! limit), authenticates the bearer token, applies the tenant's rate limit, resolves persisted
//! queries, registers each request's loaders, executes under the request timeout, sanitises
//! errors, and reports the SQL statements and MongoDB commands it ran in response headers.
//! Every rejection is a GraphQL error with its own code.

use crate::error::code;
use std::time::Instant;

use async_graphql::{BatchRequest, BatchResponse, Executor, Response as GqlResponse, ServerError};
use async_graphql_axum::GraphQLResponse;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::{bearer_token, resolve_viewer};
use crate::domain::access::Viewer;
use crate::error::{AppError, sanitize};
use crate::graphql::AuthFailure;
use crate::graphql::limits::{MAX_BATCH, rejection};
use crate::http::persisted;
use crate::loaders;
use crate::store::metrics::{RequestCounters, record_request};

/// The response header carrying the number of SQL statements the request ran.
pub const SQL_STATEMENTS_HEADER: &str = "x-goalgraph-sql-statements";
/// The response header carrying the number of MongoDB commands the request sent.
pub const MONGO_COMMANDS_HEADER: &str = "x-goalgraph-mongo-commands";

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let mut batch = match read_batch(&state, body) {
        Ok(batch) => batch,
        Err(refused) => return *refused,
    };
    let counters = RequestCounters::new();
    let executed = counters
        .clone()
        .scope(async {
            let prepare = match authenticate(&state, &headers).await {
                Ok(Some(viewer)) => Prepared::Viewer(viewer),
                Ok(None) => Prepared::Anonymous,
                Err(failure) => Prepared::Failed(failure),
            };
            if let Prepared::Viewer(viewer) = &prepare
                && let Some(refused) = rate_limited(&state, viewer.tenant_id, &batch).await
            {
                return Err(refused);
            }
            for request in requests_mut(&mut batch) {
                persisted::resolve(&state.shared, request)
                    .await
                    .map_err(|error| error_response(StatusCode::OK, error))?;
            }
            let batch = match batch {
                BatchRequest::Single(request) => {
                    BatchRequest::Single(prepare.apply(&state, request))
                }
                BatchRequest::Batch(requests) => BatchRequest::Batch(
                    requests
                        .into_iter()
                        .map(|request| prepare.apply(&state, request))
                        .collect(),
                ),
            };
            tokio::time::timeout(state.limits.timeout, state.schema.execute_batch(batch))
                .await
                .map_err(|_elapsed| {
                    // Dropping the execution cancels its pending queries; the connections'
                    // statement_timeout stops whatever PostgreSQL is still running.
                    error_response(
                        StatusCode::OK,
                        rejection(
                            code::TIMEOUT,
                            format!(
                                "the request took longer than {} s and was cancelled; ask for \
                                 less (smaller pages, a lower maxDepth, fewer nested lists)",
                                state.limits.timeout.as_secs_f64()
                            ),
                        ),
                    )
                })
        })
        .await;
    record_request(started.elapsed(), &counters);
    let mut http = match executed {
        Ok(mut response) => {
            sanitize_all(&mut response);
            GraphQLResponse::from(response).into_response()
        }
        Err(refused) => refused,
    };
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

fn requests_mut(batch: &mut BatchRequest) -> Vec<&mut async_graphql::Request> {
    match batch {
        BatchRequest::Single(request) => vec![request],
        BatchRequest::Batch(requests) => requests.iter_mut().collect(),
    }
}

/// RATE_LIMITED (HTTP 429) when the tenant's budget lacks a token for each operation of the
/// batch (one round trip to the shared state, whatever the batch's size).
async fn rate_limited(state: &AppState, tenant_id: i64, batch: &BatchRequest) -> Option<Response> {
    let limit = state.limits.rate_limit?;
    let operations = match batch {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(requests) => requests.len(),
    };
    if state
        .shared
        .take_requests(tenant_id, operations, limit)
        .await
    {
        return None;
    }
    let retry_after = (1.0 / limit.rate).ceil().max(1.0) as u64;
    let mut response = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        rejection(
            code::RATE_LIMITED,
            format!(
                "your organisation is over its limit of {} requests per second (bursts of {}); \
                 retry after {retry_after} s",
                limit.rate, limit.burst
            ),
        ),
    );
    if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    Some(response)
}

fn sanitize_all(response: &mut BatchResponse) {
    match response {
        BatchResponse::Single(single) => sanitize(&mut single.errors),
        BatchResponse::Batch(responses) => {
            for single in responses {
                sanitize(&mut single.errors);
            }
        }
    }
}

/// The body as one request or a batch, or why it is refused.
fn read_batch(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<BatchRequest, Box<Response>> {
    let body = body.map_err(|refused| {
        Box::new(if refused.status() == StatusCode::PAYLOAD_TOO_LARGE {
            error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                rejection(
                    code::PAYLOAD_TOO_LARGE,
                    format!(
                        "the request body exceeds {} bytes; send a shorter query (persisted \
                         queries send only a hash) or split the batch",
                        state.limits.max_body_bytes
                    ),
                ),
            )
        } else {
            error_response(
                StatusCode::BAD_REQUEST,
                rejection(code::BAD_REQUEST, "the request body could not be read"),
            )
        })
    })?;
    let batch: BatchRequest = serde_json::from_slice(&body).map_err(|_| {
        Box::new(error_response(
            StatusCode::BAD_REQUEST,
            rejection(
                code::BAD_REQUEST,
                "the body must be JSON: {\"query\": \"...\", \"variables\": {...}} or a list of \
                 such requests",
            ),
        ))
    })?;
    if let BatchRequest::Batch(requests) = &batch {
        if requests.len() > MAX_BATCH {
            return Err(Box::new(error_response(
                StatusCode::OK,
                rejection(
                    code::BATCH_TOO_LARGE,
                    format!(
                        "the batch holds {} operations; send at most {MAX_BATCH} per request",
                        requests.len()
                    ),
                ),
            )));
        }
        if requests.is_empty() {
            return Err(Box::new(error_response(
                StatusCode::OK,
                rejection(code::BAD_REQUEST, "the batch is empty"),
            )));
        }
    }
    Ok(batch)
}

/// What every request of a batch gets: the viewer and loaders, or why there is none.
enum Prepared {
    Viewer(Viewer),
    Anonymous,
    Failed(AppError),
}

impl Prepared {
    fn apply(&self, state: &AppState, request: async_graphql::Request) -> async_graphql::Request {
        match self {
            Prepared::Viewer(viewer) => {
                loaders::register(request.data(*viewer), &state.stores, *viewer)
            }
            Prepared::Anonymous => request,
            Prepared::Failed(failure) => request.data(AuthFailure(failure.clone())),
        }
    }
}

fn error_response(status: StatusCode, error: ServerError) -> Response {
    let body = GqlResponse::from_errors(vec![error]);
    let mut response = GraphQLResponse::from(body).into_response();
    *response.status_mut() = status;
    response
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
    resolve_viewer(&state.stores.org, &state.users, &claims)
        .await
        .map(Some)
}
