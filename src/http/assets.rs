//! Static files compiled into the binary (the playground's and the dashboard's), served with
//! their content type and a day of caching.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A bundled file: its name, content type and bytes.
pub type Asset = (&'static str, &'static str, &'static [u8]);

/// The asset called `name` among `assets`, or 404.
pub fn bundled(assets: &[Asset], name: &str) -> Response {
    match assets.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
