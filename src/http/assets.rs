//! Static files compiled into the binary (the playground's and the dashboard's), served with
//! their content type, a day of caching and a strong `ETag` (the first 128 bits of the bytes'
//! SHA-256, computed once per file), so a browser revalidates with `If-None-Match` and gets 304 without the body.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use sha2::{Digest, Sha256};

/// A bundled file: its name, content type and bytes.
pub type Asset = (&'static str, &'static str, &'static [u8]);

/// ETags by the address of the bytes they were computed from (bundled bytes are `'static`).
static ETAGS: LazyLock<Mutex<HashMap<usize, HeaderValue>>> = LazyLock::new(Default::default);

/// The strong ETag of `body`.
fn etag(body: &'static [u8]) -> HeaderValue {
    let mut known = ETAGS.lock().unwrap_or_else(|e| e.into_inner());
    known
        .entry(body.as_ptr() as usize)
        .or_insert_with(|| {
            let digest: String = Sha256::digest(body)[..16]
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            HeaderValue::from_str(&format!("\"{digest}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
        })
        .clone()
}

/// The asset called `name` among `assets`: 304 when `request` already holds this version,
/// else the file; 404 when there is none.
pub fn bundled(assets: &[Asset], name: &str, request: &HeaderMap) -> Response {
    let Some(&(_, content_type, body)) = assets.iter().find(|(file, _, _)| *file == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = etag(body);
    let headers = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        ),
        (header::ETAG, etag.clone()),
    ];
    let unchanged = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|candidate| {
            let candidate = candidate.trim();
            candidate == "*" || candidate.trim_start_matches("W/").as_bytes() == etag.as_bytes()
        });
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (
        headers,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}
