//! GraphQL over HTTP: `POST /graphql` reads a JSON request or a batch of up to
//! `limits::MAX_BATCH` (within the body limit); `GET /graphql?query=…` runs a query (never a
//! mutation) from the URL, persisted-query hashes included. Both authenticate the bearer token,
//! resolve persisted queries, price the request and charge the tenant's budget (`http::cost`),
//! register each request's loaders, execute under the request timeout, settle the charge,
//! sanitise errors, answer in the media type the `Accept` header negotiates
//! (`http::negotiation`), and report the SQL statements and MongoDB commands they ran in
//! response headers. Every rejection is a GraphQL error with its own code.

use crate::error::code;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::OperationType;
use async_graphql::{
    BatchRequest, BatchResponse, Executor, Response as GqlResponse, ServerError, Variables,
};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::{bearer_token, resolve_viewer};
use crate::domain::access::Viewer;
use crate::error::{AppError, sanitize};
use crate::graphql::limits::{MAX_BATCH, rejection};
use crate::graphql::prerender::body::{self, Piece};
use crate::graphql::prerender::{PendingLists, PreRendering};
use crate::http::negotiation::{AnswerType, not_executed};
use crate::http::{cost, persisted, playground};
use crate::loaders;
use crate::store::metrics::{RequestCounters, operation_label, record_request};

/// The response header carrying the number of SQL statements the request ran.
pub const SQL_STATEMENTS_HEADER: &str = "x-goalgraph-sql-statements";
/// The response header carrying the number of MongoDB commands the request sent.
pub const MONGO_COMMANDS_HEADER: &str = "x-goalgraph-mongo-commands";
/// Response header: how many lists of the answer were written as JSON straight from rows.
pub const PRE_RENDERED_LISTS_HEADER: &str = "x-goalgraph-pre-rendered-lists";

/// `POST /graphql`: a JSON request or batch.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(answer) = AnswerType::negotiate(&headers) else {
        return not_acceptable();
    };
    if !is_json(&headers) {
        return refusal(
            answer,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            rejection(
                code::UNSUPPORTED_MEDIA_TYPE,
                "send the request body as JSON with Content-Type: application/json",
            ),
        );
    }
    match read_batch(&state, body, answer) {
        Ok(batch) => run(state, headers, batch, answer, Method::Post).await,
        Err(refused) => *refused,
    }
}

/// What `GET /graphql` may carry: a request's fields, `variables` and `extensions` as JSON
/// text (URL-encoded), as GraphQL over HTTP defines them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// `GET /graphql`: a query (never a mutation) from the URL, or, without one, the playground.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let params = match params {
        Ok(Query(params)) if params.query.is_some() || params.extensions.is_some() => params,
        Ok(_) => return playground::page().await.into_response(),
        Err(_) => {
            return refusal(
                AnswerType::Json,
                StatusCode::BAD_REQUEST,
                rejection(
                    code::BAD_REQUEST,
                    "the URL's query string could not be read",
                ),
            );
        }
    };
    let Some(answer) = AnswerType::negotiate(&headers) else {
        return not_acceptable();
    };
    match request_from_url(params) {
        Ok(request) => {
            run(
                state,
                headers,
                BatchRequest::Single(request),
                answer,
                Method::Get,
            )
            .await
        }
        Err(error) => refusal(answer, StatusCode::BAD_REQUEST, error),
    }
}

/// The request a GET's parameters describe.
fn request_from_url(params: GetParams) -> Result<async_graphql::Request, ServerError> {
    let json =
        |name: &str, text: Option<String>| -> Result<Option<serde_json::Value>, ServerError> {
            text.filter(|text| !text.is_empty())
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|_| {
                    rejection(
                        code::BAD_REQUEST,
                        format!("`{name}` must be JSON, URL-encoded"),
                    )
                })
        };
    let variables = json("variables", params.variables)?;
    let extensions = json("extensions", params.extensions)?;
    let mut request = async_graphql::Request::new(params.query.unwrap_or_default());
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    match variables {
        None | Some(serde_json::Value::Null) => {}
        Some(variables @ serde_json::Value::Object(_)) => {
            request = request.variables(Variables::from_json(variables));
        }
        Some(_) => {
            return Err(rejection(
                code::BAD_REQUEST,
                "`variables` must be a JSON object",
            ));
        }
    }
    match extensions {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(map)) => {
            for (key, value) in map {
                let value = async_graphql::Value::from_json(value).map_err(|_| {
                    rejection(code::BAD_REQUEST, "`extensions` must be a JSON object")
                })?;
                request.extensions.insert(key, value);
            }
        }
        Some(_) => {
            return Err(rejection(
                code::BAD_REQUEST,
                "`extensions` must be a JSON object",
            ));
        }
    }
    Ok(request)
}

/// How the request arrived: GET runs only queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Post,
    Get,
}

/// Authenticates, resolves persisted queries, prices and charges, executes `batch` under the
/// request timeout, settles, and answers it as `answer`, with the statement and command counts.
async fn run(
    state: AppState,
    headers: HeaderMap,
    mut batch: BatchRequest,
    answer: AnswerType,
    method: Method,
) -> Response {
    let started = Instant::now();
    let counters = RequestCounters::new();
    // The label of the request's metrics: its operation's name (read again once a persisted
    // query's text is known).
    let operation_of = |batch: &BatchRequest| match batch {
        BatchRequest::Single(request) => {
            let name = state.schema.documents().operation_name(request);
            operation_label(name.as_deref()).to_owned()
        }
        BatchRequest::Batch(_) => "batch".to_owned(),
    };
    let mut operation = operation_of(&batch);
    let lists = Arc::new(PendingLists::default());
    let executed = counters
        .clone()
        .scope(async {
            let prepare = match authenticate(&state, &headers).await {
                Ok(Some(viewer)) => Prepared::Viewer(viewer),
                Ok(None) => Prepared::Anonymous,
                Err(failure) if failure.code() == code::UNAUTHENTICATED => {
                    return Err(unauthorized(answer, &failure, TokenProblem::Invalid));
                }
                Err(failure) => {
                    let error =
                        async_graphql::Error::from(failure).into_server_error(Default::default());
                    return Err(refusal(answer, StatusCode::OK, error));
                }
            };
            for request in requests_mut(&mut batch) {
                persisted::resolve(&state.shared, request)
                    .await
                    .map_err(|error| refusal(answer, StatusCode::OK, error))?;
                if matches!(prepare, Prepared::Anonymous)
                    && !state.schema.documents().is_introspection(request)
                {
                    let missing = AppError::Unauthenticated(
                        "send an Authorization: Bearer <token> header (goalgraph token prints \
                         one); without a token only introspection is answered"
                            .into(),
                    );
                    return Err(unauthorized(answer, &missing, TokenProblem::Missing));
                }
                if method == Method::Get
                    && state
                        .schema
                        .documents()
                        .operation_type(request)
                        .is_some_and(|operation| operation != OperationType::Query)
                {
                    return Err(get_refused());
                }
            }
            operation = operation_of(&batch);
            let charge = match &prepare {
                Prepared::Viewer(viewer) => Some(
                    cost::charge(&state, viewer, &batch)
                        .await
                        .map_err(|refused| over_budget(answer, refused))?,
                ),
                Prepared::Anonymous => None,
            };
            let batch = match batch {
                BatchRequest::Single(request) => {
                    BatchRequest::Single(prepare.apply(&state, request, &lists))
                }
                BatchRequest::Batch(requests) => BatchRequest::Batch(
                    requests
                        .into_iter()
                        .map(|request| prepare.apply(&state, request, &lists))
                        .collect(),
                ),
            };
            let response =
                tokio::time::timeout(state.limits.timeout, state.schema.execute_batch(batch))
                    .await
                    .map_err(|_elapsed| {
                        // Dropping the execution cancels its pending queries; the connections'
                        // statement_timeout stops whatever PostgreSQL is still running.
                        refusal(
                            answer,
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
                    })?;
            let mut response = response;
            let rate_headers = match charge {
                Some(charge) => charge.settle(&state, &mut response).await,
                None => HeaderMap::new(),
            };
            Ok((response, rate_headers))
        })
        .await;
    let (mut http, outcome) = match executed {
        Ok((mut response, rate_headers)) => {
            sanitize_all(&mut response);
            let mut http = answer_with(answer, &response, &lists);
            http.headers_mut().extend(rate_headers);
            (http, outcome_of(&response))
        }
        Err(refused) => {
            let outcome = format!("http_{}", refused.status().as_u16());
            (refused, outcome)
        }
    };
    record_request(started.elapsed(), &counters, &operation, &outcome);
    for (name, count) in [
        (SQL_STATEMENTS_HEADER, counters.sql_statements()),
        (MONGO_COMMANDS_HEADER, counters.mongo_commands()),
        (PRE_RENDERED_LISTS_HEADER, counters.pre_rendered_lists()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&count.to_string()) {
            http.headers_mut().insert(name, value);
        }
    }
    http
}

/// `ok`, or the code of the first error of the answer (`INTERNAL` when it has none).
fn outcome_of(response: &BatchResponse) -> String {
    let first_error = match response {
        BatchResponse::Single(single) => single.errors.first(),
        BatchResponse::Batch(all) => all.iter().find_map(|single| single.errors.first()),
    };
    let Some(error) = first_error else {
        return "ok".to_owned();
    };
    error
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get("code"))
        .and_then(|code| match code {
            async_graphql::Value::String(code) => Some(code.clone()),
            _ => None,
        })
        .unwrap_or_else(|| code::INTERNAL.to_owned())
}

/// Whether the request body is declared JSON (`application/json`, any parameters).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .is_some_and(|media| {
            media.type_() == mime::APPLICATION
                && media.subtype() == mime::JSON
                && media
                    .get_param(mime::CHARSET)
                    .is_none_or(|charset| charset == mime::UTF_8)
        })
}

/// HTTP 405 for a mutation or subscription sent with GET.
fn get_refused() -> Response {
    let mut response = refusal(
        AnswerType::Json,
        StatusCode::METHOD_NOT_ALLOWED,
        rejection(
            code::METHOD_NOT_ALLOWED,
            "GET runs queries only; send mutations with POST (subscriptions over /graphql/ws)",
        ),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    response
}

/// HTTP 406: the client accepts none of the answer's media types.
fn not_acceptable() -> Response {
    refusal(
        AnswerType::Json,
        StatusCode::NOT_ACCEPTABLE,
        rejection(
            code::NOT_ACCEPTABLE,
            "accept application/json or application/graphql-response+json",
        ),
    )
}

/// `response` as an HTTP answer of type `answer`: its status, content type and the headers
/// resolvers set; in `application/graphql-response+json`, a request that failed before
/// execution has no `data` entry.
fn answer_with(answer: AnswerType, response: &BatchResponse, lists: &PendingLists) -> Response {
    let pieces = match response {
        BatchResponse::Single(single)
            if answer == AnswerType::GraphqlResponse && not_executed(single) =>
        {
            serde_json::to_vec(&RequestErrors {
                errors: &single.errors,
                extensions: &single.extensions,
            })
            .map(|text| vec![Piece::Ready(Some(text.into()))])
        }
        _ => body::write_response(response, lists).map_err(serde_json::Error::io),
    };
    let mut http = match pieces {
        Ok(pieces) => pieces_body(pieces),
        Err(error) => {
            tracing::error!(%error, "a response could not be serialised");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    *http.status_mut() = answer.status(response);
    let headers = http.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type()),
    );
    if response.is_ok()
        && let Some(cache_control) = response.cache_control().value()
        && let Ok(value) = HeaderValue::from_str(&cache_control)
    {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.extend(response.http_headers());
    http
}

/// A response whose body is `pieces` one after another: with its `Content-Length` when every
/// piece is written already (a body of several pieces would otherwise be sent chunked, its
/// length unknown to the client), chunked when a long list is written while it is sent.
fn pieces_body(pieces: Vec<Piece>) -> Response {
    let length: Option<usize> = pieces.iter().map(Piece::ready_len).sum();
    let mut http = match <[Piece; 1]>::try_from(pieces) {
        Ok([Piece::Ready(whole)]) => {
            Response::new(axum::body::Body::from(whole.unwrap_or_default()))
        }
        Ok([piece]) => Response::new(axum::body::Body::from_stream(futures::stream::iter(piece))),
        Err(pieces) => Response::new(axum::body::Body::from_stream(futures::stream::iter(
            pieces.into_iter().flatten(),
        ))),
    };
    if let Some(length) = length {
        http.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    http
}

/// A request's errors without a `data` entry.
#[derive(Serialize)]
struct RequestErrors<'a> {
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, async_graphql::Value>,
}

fn requests_mut(batch: &mut BatchRequest) -> Vec<&mut async_graphql::Request> {
    match batch {
        BatchRequest::Single(request) => vec![request],
        BatchRequest::Batch(requests) => requests.iter_mut().collect(),
    }
}

/// The answer to a request refused before it ran: NODE_LIMIT_EXCEEDED (or a pricing failure)
/// as an error; RATE_LIMITED as HTTP 429 with `Retry-After` and the budget's headers.
fn over_budget(answer: AnswerType, refused: cost::Refused) -> Response {
    match refused {
        cost::Refused::Error(error) => refusal(answer, StatusCode::OK, error),
        cost::Refused::OverBudget {
            requested,
            limit,
            budget,
        } => {
            let (error, retry_after) = cost::Refused::over_budget(requested, limit, budget);
            let mut response = refusal(answer, StatusCode::TOO_MANY_REQUESTS, error);
            response
                .headers_mut()
                .extend(cost::rate_headers((limit, budget)));
            if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
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
    answer: AnswerType,
) -> Result<BatchRequest, Box<Response>> {
    let body = body.map_err(|refused| {
        Box::new(if refused.status() == StatusCode::PAYLOAD_TOO_LARGE {
            refusal(
                answer,
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
            refusal(
                answer,
                StatusCode::BAD_REQUEST,
                rejection(code::BAD_REQUEST, "the request body could not be read"),
            )
        })
    })?;
    let batch: BatchRequest = serde_json::from_slice(&body).map_err(|_| {
        Box::new(refusal(
            answer,
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
            return Err(Box::new(refusal(
                answer,
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
            return Err(Box::new(refusal(
                answer,
                StatusCode::OK,
                rejection(code::BAD_REQUEST, "the batch is empty"),
            )));
        }
    }
    Ok(batch)
}

/// What every request of a batch gets: the viewer and loaders, or nothing for an anonymous
/// introspection.
enum Prepared {
    Viewer(Viewer),
    Anonymous,
}

impl Prepared {
    fn apply(
        &self,
        state: &AppState,
        request: async_graphql::Request,
        lists: &Arc<PendingLists>,
    ) -> async_graphql::Request {
        match self {
            Prepared::Viewer(viewer) => loaders::register(
                request
                    .data(*viewer)
                    .data(PreRendering::new(Arc::clone(lists))),
                &state.stores,
                *viewer,
                loaders::LoaderCache::PerRequest,
            ),
            Prepared::Anonymous => request,
        }
    }
}

/// Why a request has no viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenProblem {
    /// No `Authorization` header.
    Missing,
    /// A token that is malformed, badly signed, expired, or names no user.
    Invalid,
}

/// HTTP 401 with `WWW-Authenticate: Bearer` (RFC 6750: `error="invalid_token"` for a token
/// that was sent), so clients' token-refresh interceptors can react, and the coded error.
fn unauthorized(answer: AnswerType, failure: &AppError, problem: TokenProblem) -> Response {
    let error = async_graphql::Error::from(failure.clone()).into_server_error(Default::default());
    let mut response = refusal(answer, StatusCode::UNAUTHORIZED, error);
    let challenge = match problem {
        TokenProblem::Missing => r#"Bearer realm="goalgraph""#.to_owned(),
        TokenProblem::Invalid => {
            let description: String = failure
                .public_message()
                .chars()
                .filter(|c| *c != '"' && *c != '\\' && (' '..='~').contains(c))
                .collect();
            format!(
                r#"Bearer realm="goalgraph", error="invalid_token", error_description="{description}""#
            )
        }
    };
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// A request refused before execution with `error`: `status` with `application/json` (200 for
/// what older clients expect as a GraphQL error), at least 400 with
/// `application/graphql-response+json`.
fn refusal(answer: AnswerType, status: StatusCode, error: ServerError) -> Response {
    let mut response = answer_with(
        answer,
        &BatchResponse::Single(GqlResponse::from_errors(vec![error])),
        &PendingLists::default(),
    );
    if status != StatusCode::OK {
        *response.status_mut() = status;
    }
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
    let claims = state.keys.verify(token).await?;
    resolve_viewer(&state.stores.org, &claims).await.map(Some)
}
