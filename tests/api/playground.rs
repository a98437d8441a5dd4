//! The playground is served with its assets, so it works with no internet connection.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_playground_loads_every_asset_from_the_api_itself() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("GraphiQL"));
    let external: Vec<&str> = page
        .split(['"', '\''])
        .filter(|s| s.starts_with("http") || s.starts_with("//"))
        .collect();
    assert!(
        external.is_empty(),
        "the playground references external resources: {external:?}"
    );
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    ] {
        assert!(
            page.contains(&format!("/graphiql/{asset}")),
            "{asset} not referenced"
        );
        let response = app
            .client
            .get(format!("{}/graphiql/{asset}", app.address))
            .send()
            .await
            .expect("asset");
        assert_eq!(response.status(), 200, "{asset}");
        assert!(
            response.bytes().await.expect("body").len() > 1000,
            "{asset} is empty"
        );
    }
}

#[tokio::test]
async fn metrics_expose_the_sql_statement_counter() {
    let app = spawn_app().await;
    let body = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(body.contains("goalgraph_sql_statements_total"), "{body}");
}
