//! GraphQL over HTTP's media types: which one an answer is sent as, chosen from the request's
//! `Accept` header, and the status code that goes with it.
//!
//! `application/json` is the answer when the client asks for it, sends no `Accept`, or accepts
//! anything (`*/*`, `application/*`); `application/graphql-response+json` when the client
//! prefers it (a higher `q`, or listed first at the same `q`). In that mode a request that
//! failed before execution (it did not parse or validate, or it was refused) has no `data`
//! entry and a 4xx status, as the GraphQL-over-HTTP specification requires; with
//! `application/json`, clients written before that specification expect 200 and `data: null`.

use async_graphql::{BatchResponse, Response};
use axum::http::{HeaderMap, StatusCode, header};

/// The media type of a GraphQL answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerType {
    /// `application/json`: every executed request is 200.
    Json,
    /// `application/graphql-response+json`: a request that failed before execution is 4xx.
    GraphqlResponse,
}

/// `application/graphql-response+json`.
pub const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

impl AnswerType {
    /// The `Content-Type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            AnswerType::Json => "application/json; charset=utf-8",
            AnswerType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        }
    }

    /// The type to answer `headers` with, or `None` when the client accepts neither (406).
    pub fn negotiate(headers: &HeaderMap) -> Option<AnswerType> {
        let mut accepts = headers.get_all(header::ACCEPT).iter().peekable();
        if accepts.peek().is_none() {
            return Some(AnswerType::Json);
        }
        // The type with the highest q, the earliest listed at equal q; a wildcard stands for
        // application/json.
        let mut best: Option<(f32, AnswerType)> = None;
        let ranges = accepts
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','));
        for range in ranges {
            let Ok(media) = range.trim().parse::<mime::Mime>() else {
                continue;
            };
            let suffix = media.suffix().map(|suffix| suffix.as_str());
            let answer = match (media.type_().as_str(), media.subtype().as_str(), suffix) {
                ("application", "graphql-response", Some("json")) => AnswerType::GraphqlResponse,
                ("application", "json" | "*", None) | ("*", "*", None) => AnswerType::Json,
                _ => continue,
            };
            let q = media
                .get_param("q")
                .and_then(|q| q.as_str().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            if best.is_none_or(|(best_q, _)| q > best_q) {
                best = Some((q, answer));
            }
        }
        best.map(|(_, answer)| answer)
    }

    /// The status of `response` in this type: 200, or (with `application/graphql-response+json`)
    /// 400 for a request that failed before execution.
    pub fn status(self, response: &BatchResponse) -> StatusCode {
        let failed_before_execution = match response {
            BatchResponse::Single(single) => not_executed(single),
            BatchResponse::Batch(_) => false,
        };
        if self == AnswerType::GraphqlResponse && failed_before_execution {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        }
    }
}

/// Whether `response` failed before execution: no data, and errors that name no field.
pub fn not_executed(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn negotiate(accept: Option<&str>) -> Option<AnswerType> {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_str(accept).expect("header"),
            );
        }
        AnswerType::negotiate(&headers)
    }

    #[test]
    fn json_unless_the_client_prefers_graphql_response_json() {
        assert_eq!(negotiate(None), Some(AnswerType::Json));
        assert_eq!(negotiate(Some("*/*")), Some(AnswerType::Json));
        assert_eq!(negotiate(Some("application/json")), Some(AnswerType::Json));
        assert_eq!(
            negotiate(Some(GRAPHQL_RESPONSE)),
            Some(AnswerType::GraphqlResponse)
        );
        assert_eq!(
            negotiate(Some("application/graphql-response+json, application/json")),
            Some(AnswerType::GraphqlResponse)
        );
        assert_eq!(
            negotiate(Some("application/json, application/graphql-response+json")),
            Some(AnswerType::Json)
        );
        assert_eq!(
            negotiate(Some(
                "application/json;q=0.9, application/graphql-response+json"
            )),
            Some(AnswerType::GraphqlResponse)
        );
        assert_eq!(
            negotiate(Some("application/graphql-response+json;q=0, */*")),
            Some(AnswerType::Json)
        );
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(
            negotiate(Some("text/html, */*;q=0.8")),
            Some(AnswerType::Json)
        );
    }
}
