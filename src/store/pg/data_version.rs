//! Each tenant's data version: a counter that every commit changing what reports read bumps in
//! the same transaction (triggers on the tables, migration `m20261130_000008`), plus the bumps
//! the application makes for what only MongoDB holds (custom fields, relayed tree documents).
//! Reading it costs one primary-key lookup.

use std::collections::HashMap;

use sea_orm::ConnectionTrait;

use super::scoped::sql;
use crate::store::StoreResult;

/// A tenant's data as of one commit: `epoch` names the tenant's data wherever it lives (a
/// random UUID given when the tenant is created), `counter` its changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataVersion {
    pub epoch: String,
    pub counter: i64,
}

/// The current data versions of `tenant_ids`, in one statement (unknown tenants are left out).
pub async fn current(
    db: &impl ConnectionTrait,
    tenant_ids: &[i64],
) -> StoreResult<HashMap<i64, DataVersion>> {
    let rows = db
        .query_all_raw(sql(
            "SELECT id, data_epoch::text AS epoch, data_version AS counter \
             FROM tenants WHERE id = ANY($1)",
            [tenant_ids.to_vec().into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let version = DataVersion {
                epoch: row.try_get("", "epoch")?,
                counter: row.try_get("", "counter")?,
            };
            Ok((row.try_get("", "id")?, version))
        })
        .collect()
}

/// Bumps the versions of `tenant_ids` after a change PostgreSQL's triggers cannot see (one made
/// in MongoDB); inside the transaction that records it when there is one.
pub async fn bump(db: &impl ConnectionTrait, tenant_ids: &[i64]) -> StoreResult<()> {
    if tenant_ids.is_empty() {
        return Ok(());
    }
    db.execute_raw(sql(
        "UPDATE tenants SET data_version = data_version + 1 WHERE id = ANY($1)",
        [tenant_ids.to_vec().into()],
    ))
    .await?;
    Ok(())
}
