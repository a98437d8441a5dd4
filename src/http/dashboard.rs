//! `GET /`: the dashboard page (objective tree, key results, notes, live progress), its
//! scripts and styles compiled into the binary so it works offline. It talks to the public
//! GraphQL API only.

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::{Html, Response};

use super::assets::{Asset, bundled};

const PAGE: &str = include_str!("../../assets/dashboard/index.html");

const ASSETS: &[Asset] = &[
    (
        "dashboard.js",
        "text/javascript",
        include_bytes!("../../assets/dashboard/dashboard.js"),
    ),
    (
        // The graphql-ws package's browser build (MIT), vendored: the dashboard loads nothing
        // from elsewhere.
        "graphql-ws.min.js",
        "text/javascript",
        include_bytes!("../../assets/dashboard/graphql-ws.min.js"),
    ),
    (
        "dashboard.css",
        "text/css",
        include_bytes!("../../assets/dashboard/dashboard.css"),
    ),
];

/// The dashboard page.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// One of the dashboard's bundled assets.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    bundled(ASSETS, &name, &headers)
}
