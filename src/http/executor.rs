//! The schema as the HTTP and WebSocket handlers execute it: every request's document comes
//! from the per-replica document cache and is held to the alias limit before async-graphql
//! validates and runs it, whether it arrived by `POST /graphql` or as a subscription.

use std::sync::Arc;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};
use async_graphql::{Data, Executor, Request, Response};

use crate::graphql::GoalSchema;
use crate::graphql::cost::CostModel;
use crate::http::parsed_queries::ParsedQueries;

/// [`GoalSchema`] behind the document cache; cheap to clone.
#[derive(Clone)]
pub struct CheckedSchema {
    schema: GoalSchema,
    documents: ParsedQueries,
    cost_model: Arc<CostModel>,
}

impl CheckedSchema {
    /// `schema` with a fresh document cache.
    pub fn new(schema: GoalSchema) -> Self {
        let cost_model = Arc::new(CostModel::from_sdl(&schema.sdl()));
        Self {
            schema,
            documents: ParsedQueries::default(),
            cost_model,
        }
    }

    /// The schema's fields as query cost reads them.
    pub fn cost_model(&self) -> &CostModel {
        &self.cost_model
    }

    /// The documents cached so far.
    pub fn documents(&self) -> &ParsedQueries {
        &self.documents
    }
}

impl Executor for CheckedSchema {
    async fn execute(&self, request: Request) -> Response {
        match self.documents.prepare(request) {
            Ok(request) => self.schema.execute(request).await,
            Err(refused) => Response::from_errors(vec![refused]),
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        match self.documents.prepare(request) {
            Ok(request) => self
                .schema
                .execute_stream_with_session_data(request, session_data.unwrap_or_default()),
            Err(refused) => stream::once(async { Response::from_errors(vec![refused]) }).boxed(),
        }
    }
}
