//! Charging requests by what they cost: each request's cost is estimated before it runs (from
//! its document, variables and the stored subtree sizes of the objectives it names), refused
//! above [`MAX_NODES`] objects, taken from the tenant's budget of points, and settled at what
//! the answer really cost (the difference given back). Clients see it in `extensions.cost`
//! and the `X-RateLimit-*` headers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_graphql::{BatchRequest, BatchResponse, ServerError, Value};
use axum::http::{HeaderMap, HeaderValue};

use crate::app::AppState;
use crate::domain::access::Viewer;
use crate::error::code;
use crate::graphql::cost::{self, Estimate, MAX_NODES};
use crate::graphql::limits::rejection;
use crate::store::pg::subtree_sizes::{self, GuardedSize, SubtreeSize};
use crate::store::shared::{Budget, RateLimit};

/// How long a replica reuses an objective's stored subtree sizes for estimates.
const SIZES_TTL: Duration = Duration::from_secs(10);
/// The most sizes a replica keeps (emptied when full).
const SIZES_CAPACITY: usize = 50_000;

/// Recently read subtree sizes, per replica: estimates need not be exact, and a dashboard
/// asking for the same tree again costs no statement to price. Entries keep what decides who
/// may see the objective: a viewer gets the sizes of the objectives it may see only (any other
/// is priced as unknown), so a cost never tells what is below an objective you cannot see.
#[derive(Default)]
pub struct SizeCache {
    entries: Mutex<HashMap<(i64, i64), (GuardedSize, Instant)>>,
}

impl SizeCache {
    /// The sizes of those of `ids` that `viewer` may see: cached ones, the rest read in one
    /// statement.
    async fn sizes(
        &self,
        state: &AppState,
        viewer: &Viewer,
        ids: &[i64],
    ) -> Result<HashMap<i64, SubtreeSize>, ServerError> {
        let tenant_id = viewer.tenant_id;
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            for id in ids {
                match entries.get(&(tenant_id, *id)) {
                    Some((size, at)) if at.elapsed() < SIZES_TTL => {
                        found.extend(size.visible_to(viewer).map(|size| (*id, size)));
                    }
                    _ => missing.push(*id),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let read = subtree_sizes::sizes(state.stores.objectives.db(), tenant_id, &missing)
            .await
            .map_err(|err| {
                async_graphql::Error::from(crate::error::AppError::from(err))
                    .into_server_error(Default::default())
            })?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() + read.len() > SIZES_CAPACITY {
            entries.clear();
        }
        let now = Instant::now();
        for (id, size) in read {
            entries.insert((tenant_id, id), (size, now));
            found.extend(size.visible_to(viewer).map(|size| (id, size)));
        }
        Ok(found)
    }
}

/// What a request was charged before it ran.
pub struct Charge {
    /// Each operation's estimate, in batch order.
    estimates: Vec<Estimate>,
    /// The tenant's budget, when one is configured.
    limit: Option<RateLimit>,
    tenant_id: i64,
}

/// Estimates `batch` for `viewer`, refuses it above [`MAX_NODES`] objects (NODE_LIMIT_EXCEEDED,
/// saying how many it asked for) and takes its cost from the tenant's budget (RATE_LIMITED,
/// with when to retry, when the budget lacks it).
pub async fn charge(
    state: &AppState,
    viewer: &Viewer,
    batch: &BatchRequest,
) -> Result<Charge, Refused> {
    let requests: Vec<&async_graphql::Request> = match batch {
        BatchRequest::Single(request) => vec![request],
        BatchRequest::Batch(requests) => requests.iter().collect(),
    };
    let documents = state.schema.documents();
    let mut roots = Vec::new();
    for request in &requests {
        roots.extend(
            documents
                .read(request, |document| {
                    cost::sized_roots(
                        document,
                        request.operation_name.as_deref(),
                        &request.variables,
                    )
                })
                .unwrap_or_default(),
        );
    }
    let sizes = state
        .sizes
        .sizes(state, viewer, &roots)
        .await
        .map_err(Refused::Error)?;
    let estimates: Vec<Estimate> = requests
        .iter()
        .map(|request| {
            documents
                .read(request, |document| {
                    cost::estimate(
                        state.schema.cost_model(),
                        document,
                        request.operation_name.as_deref(),
                        &request.variables,
                        &sizes,
                    )
                })
                .unwrap_or_default()
        })
        .collect();
    let nodes: u64 = estimates.iter().map(|estimate| estimate.nodes).sum();
    if nodes > MAX_NODES {
        return Err(Refused::Error(rejection(
            code::NODE_LIMIT_EXCEEDED,
            format!(
                "this request could return up to {nodes} objects; at most {MAX_NODES} are \
                 returned by one request: ask for smaller pages, a lower maxDepth or fewer \
                 nested lists"
            ),
        )));
    }
    let charge = Charge {
        estimates,
        limit: state.limits.rate_limit,
        tenant_id: viewer.tenant_id,
    };
    if let Some(limit) = charge.limit {
        let requested = charge.requested();
        let budget = state
            .shared
            .take_points(viewer.tenant_id, requested as f64, limit)
            .await;
        if !budget.taken {
            return Err(Refused::OverBudget {
                requested,
                limit,
                budget,
            });
        }
    }
    Ok(charge)
}

/// Why a request was not run.
pub enum Refused {
    /// Refused with this error (NODE_LIMIT_EXCEEDED, or pricing failed).
    Error(ServerError),
    /// The tenant's budget lacks the request's cost.
    OverBudget {
        requested: u64,
        limit: RateLimit,
        budget: Budget,
    },
}

impl Refused {
    /// The RATE_LIMITED error of an over-budget request and how many seconds until its cost
    /// is available again.
    pub fn over_budget(requested: u64, limit: RateLimit, budget: Budget) -> (ServerError, u64) {
        let retry_after = ((requested as f64 - budget.remaining).max(0.0) / limit.rate)
            .ceil()
            .max(1.0) as u64;
        let message = if requested as f64 > limit.burst {
            format!(
                "this request costs {requested} points, more than your organisation's budget \
                 of {} points holds: ask for less",
                limit.burst
            )
        } else {
            format!(
                "this request costs {requested} points and your organisation has {} of its \
                 {} left ({} restored per second); retry after {retry_after} s",
                budget.remaining.floor(),
                limit.burst,
                limit.rate
            )
        };
        (rejection(code::RATE_LIMITED, message), retry_after)
    }
}

impl Charge {
    fn requested(&self) -> u64 {
        self.estimates.iter().map(|estimate| estimate.cost).sum()
    }

    /// Settles at what `response` really cost (giving the difference back), reports
    /// `extensions.cost` on every operation's answer, and returns the rate-limit headers.
    pub async fn settle(self, state: &AppState, response: &mut BatchResponse) -> HeaderMap {
        let responses: Vec<&mut async_graphql::Response> = match response {
            BatchResponse::Single(single) => vec![single],
            BatchResponse::Batch(all) => all.iter_mut().collect(),
        };
        let actuals: Vec<Estimate> = responses
            .iter()
            .map(|single| cost::actual(&single.data))
            .collect();
        let actual: u64 = actuals.iter().map(|estimate| estimate.cost).sum();
        let requested = self.requested();
        let budget = match self.limit {
            Some(limit) => {
                let refund = requested.saturating_sub(actual) as f64;
                let budget = state
                    .shared
                    .take_points(self.tenant_id, -refund, limit)
                    .await;
                Some((limit, budget))
            }
            None => None,
        };
        for ((single, estimate), actual) in responses.into_iter().zip(&self.estimates).zip(&actuals)
        {
            single
                .extensions
                .insert("cost".into(), cost_extension(estimate, actual, budget));
        }
        budget.map(rate_headers).unwrap_or_default()
    }
}

/// `{ requested actual limit remaining resetAt }`, the last three when a budget is set.
fn cost_extension(
    estimate: &Estimate,
    actual: &Estimate,
    budget: Option<(RateLimit, Budget)>,
) -> Value {
    let mut cost = async_graphql::indexmap::IndexMap::new();
    cost.insert(
        async_graphql::Name::new("requested"),
        Value::from(estimate.cost),
    );
    cost.insert(async_graphql::Name::new("actual"), Value::from(actual.cost));
    cost.insert(
        async_graphql::Name::new("requestedNodes"),
        Value::from(estimate.nodes),
    );
    cost.insert(
        async_graphql::Name::new("actualNodes"),
        Value::from(actual.nodes),
    );
    if let Some((limit, budget)) = budget {
        cost.insert(
            async_graphql::Name::new("limit"),
            Value::from(limit.burst as u64),
        );
        cost.insert(
            async_graphql::Name::new("remaining"),
            Value::from(budget.remaining.floor() as u64),
        );
        cost.insert(
            async_graphql::Name::new("resetAt"),
            Value::from(
                chrono::DateTime::from_timestamp(reset_at(limit, budget) as i64, 0)
                    .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default(),
            ),
        );
    }
    Value::Object(cost)
}

/// When the budget will be full again, in seconds since the epoch.
fn reset_at(limit: RateLimit, budget: Budget) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or_default();
    now + ((limit.burst - budget.remaining).max(0.0) / limit.rate).ceil() as u64
}

/// `X-RateLimit-Limit`, `-Remaining` (points) and `-Reset` (seconds since the epoch when the
/// budget is full again).
pub fn rate_headers((limit, budget): (RateLimit, Budget)) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("x-ratelimit-limit", limit.burst as u64),
        ("x-ratelimit-remaining", budget.remaining.floor() as u64),
        ("x-ratelimit-reset", reset_at(limit, budget)),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            headers.insert(name, value);
        }
    }
    headers
}
