//! The private-objective rule of SPEC section 4 as SQL: an objective is visible when it is
//! public, owned by the viewer, in the team the viewer manages, or the viewer is an admin.

use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ColumnTrait, Value};

use super::entity::objective;
use crate::domain::access::Viewer;
use crate::domain::objective::Visibility;

/// The rule for query-builder queries on `objectives`.
pub fn condition(viewer: &Viewer) -> SimpleExpr {
    if viewer.sees_all_private() {
        return Expr::value(true);
    }
    let mut visible = objective::Column::Visibility
        .eq(Visibility::Public)
        .or(objective::Column::OwnerId.eq(viewer.user_id));
    if let Some(team) = viewer.managed_team() {
        visible = visible.or(objective::Column::TeamId.eq(team));
    }
    visible
}

/// The rule for raw SQL on `objectives` aliased `alias`, reading its three parameters from
/// `$first`, `$first+1` and `$first+2` (see [`params`]).
pub fn sql(alias: &str, first: usize) -> String {
    format!(
        "({alias}.visibility = 'public' OR {alias}.owner_id = ${} OR ${} OR {alias}.team_id = ${})",
        first,
        first + 1,
        first + 2
    )
}

/// The parameters of [`sql`]: the viewer, whether they see all, and the team they manage.
pub fn params(viewer: &Viewer) -> [Value; 3] {
    [
        viewer.user_id.into(),
        viewer.sees_all_private().into(),
        viewer.managed_team().into(),
    ]
}
