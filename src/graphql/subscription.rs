//! The subscription root: live progress and status changes under an objective, delivered
//! over graphql-ws from the replica-wide feed of `store::pg::progress_feed`.

use super::scalars::Timestamp;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{ComplexObject, Context, ID, SimpleObject, Subscription};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::context::{decode_id, encode_id, load_one, stores, viewer};
use super::enums::ObjectiveStatus;
use super::objective::Objective;
use crate::domain::access::Viewer;
use crate::domain::global_id::NodeKind;
use crate::error::AppError;
use crate::loaders::ObjectiveById;
use crate::store::pg::progress_feed::{ProgressFeed, ProgressNotice};

/// How long a new subscription waits for this replica's listener to be listening.
const LISTENER_WAIT: Duration = Duration::from_secs(5);

/// An objective's progress or status after a committed write.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
#[graphql(complex)]
pub struct ProgressChange {
    /// The objective that changed (its global ID; `objective` is the object itself).
    objective_id: ID,
    #[graphql(skip)]
    objective_row_id: i64,
    /// Its ancestors' IDs, root first.
    ancestor_ids: Vec<ID>,
    /// Its rolled-up progress now, 0..1.
    progress: f64,
    /// Its status now.
    status: ObjectiveStatus,
    /// When the write happened.
    occurred_at: Timestamp,
}

impl ProgressChange {
    /// The change as `viewer` may see it: ancestors it may not see are left out.
    fn from_notice(notice: &ProgressNotice, viewer: &Viewer) -> Option<Self> {
        let status = notice.status;
        Some(Self {
            objective_id: encode_id(NodeKind::Objective, notice.objective_id),
            objective_row_id: notice.objective_id,
            ancestor_ids: notice
                .ancestors_visible_to(viewer)
                .map(|id| encode_id(NodeKind::Objective, id))
                .collect(),
            progress: notice.progress,
            status: status.into(),
            occurred_at: Timestamp(notice.at),
        })
    }
}

#[ComplexObject]
impl ProgressChange {
    /// The objective that changed, read when the event is sent and with your visibility, so a
    /// normalised client cache (Apollo, urql, Relay) updates the objective it holds under this
    /// ID with whatever fields you select.
    async fn objective(&self, ctx: &Context<'_>) -> async_graphql::Result<Objective> {
        load_one::<ObjectiveById, _>(ctx, self.objective_row_id)
            .await?
            .map(Objective)
            .ok_or_else(|| AppError::NotFound { what: "objective" }.into())
    }
}

/// Entry points for live updates (over graphql-ws at `/graphql/ws`).
#[derive(Default)]
pub struct SubscriptionRoot;

/// Entry points for live updates (over graphql-ws at `/graphql/ws`).
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Every change of progress or status of the objective `under` or of any objective beneath
    /// it (including the roll-up changes a check-in causes in its ancestors), in commit order,
    /// on whichever replica the write happened. Private objectives you may not see are left
    /// out; `under` must be an objective you can see.
    async fn progress_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The objective whose subtree's changes are sent (itself included).")]
        under: ID,
    ) -> async_graphql::Result<impl Stream<Item = ProgressChange> + use<>> {
        let viewer = viewer(ctx)?;
        let under = decode_id(&under, NodeKind::Objective, "under")?;
        if stores(ctx)
            .objectives
            .visible_by_ids(&viewer, &[under])
            .await?
            .is_empty()
        {
            return Err(AppError::NotFound { what: "under" }.into());
        }
        let feed = ctx
            .data_opt::<ProgressFeed>()
            .ok_or_else(|| AppError::Internal("no progress feed".into()))?;
        let receiver = feed.subscribe(LISTENER_WAIT).await;
        // The connection closes (4403) when its token expires: `http::subscriptions`.
        Ok(notices(receiver).filter_map(move |notice| {
            let change = notice
                .concerns(&viewer, under)
                .then(|| ProgressChange::from_notice(&notice, &viewer))
                .flatten();
            futures::future::ready(change)
        }))
    }
}

/// The receiver's notices; a subscriber that falls too far behind skips the oldest.
fn notices(receiver: Receiver<Arc<ProgressNotice>>) -> impl Stream<Item = Arc<ProgressNotice>> {
    futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(notice) => return Some((notice, receiver)),
                Err(RecvError::Lagged(skipped)) => {
                    tracing::warn!(skipped, "progress subscriber fell behind");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}
