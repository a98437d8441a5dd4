//! `GET /graphql`: the GraphiQL playground, with its scripts and styles compiled into the
//! binary so it works with no internet connection.

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::{Html, Response};

use super::assets::{Asset, bundled};

const PAGE: &str = include_str!("../../assets/graphiql/index.html");

const ASSETS: &[Asset] = &[
    (
        "graphiql.min.css",
        "text/css",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "graphiql.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "react.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
];

/// The playground page.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// One of the playground's bundled assets.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    bundled(ASSETS, &name, &headers)
}
