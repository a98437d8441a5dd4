//! Tenant-scoped lookups shared by every repository: rows by id and rows grouped by a
//! foreign key, always filtered by `tenant_id`, plus the per-tenant write lock.

use super::Db;
use sea_orm::sea_query::SimpleExpr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QueryTrait, Select, Statement, Value,
};

use super::positional::{Positional, decode_all};

use super::entity::{check_in, cycle, key_result, milestone, objective, team, user};
use crate::store::StoreResult;

/// An entity whose rows belong to a tenant and are identified by a `BIGINT` id.
pub trait TenantOwned: EntityTrait {
    fn tenant_column() -> Self::Column;
    fn id_column() -> Self::Column;
}

macro_rules! tenant_owned {
    ($($module:ident),*) => {$(
        impl TenantOwned for $module::Entity {
            fn tenant_column() -> Self::Column {
                $module::Column::TenantId
            }
            fn id_column() -> Self::Column {
                $module::Column::Id
            }
        }
    )*};
}
tenant_owned!(
    check_in, cycle, key_result, milestone, objective, team, user
);

/// The rows of `E` with these ids in `tenant_id`, narrowed by `extra` (e.g. visibility).
pub async fn by_ids<E: TenantOwned>(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    ids: &[i64],
    extra: Option<SimpleExpr>,
) -> StoreResult<Vec<E::Model>> {
    Ok(by_ids_select::<E>(tenant_id, ids, extra).all(db).await?)
}

/// [`by_ids`], decoded by column position (`positional`): for the large reads.
pub async fn by_ids_by_position<E: TenantOwned>(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    ids: &[i64],
) -> StoreResult<Vec<E::Model>>
where
    E::Model: Positional,
{
    let statement = by_ids_select::<E>(tenant_id, ids, None).build(DbBackend::Postgres);
    decode_all(&db.query_all_raw(statement).await?)
}

/// The query of [`by_ids`].
fn by_ids_select<E: TenantOwned>(
    tenant_id: i64,
    ids: &[i64],
    extra: Option<SimpleExpr>,
) -> Select<E> {
    let query = E::find()
        .filter(E::tenant_column().eq(tenant_id))
        .filter(E::id_column().eq_any(ids.iter().copied()));
    match extra {
        Some(extra) => query.filter(extra),
        None => query,
    }
}

/// The rows of `E` in `tenant_id` whose `column` is one of `keys`, in id order.
pub async fn grouped_by<E: TenantOwned>(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    column: E::Column,
    keys: &[i64],
    extra: Option<SimpleExpr>,
) -> StoreResult<Vec<E::Model>> {
    Ok(grouped_select::<E>(tenant_id, column, keys, extra)
        .all(db)
        .await?)
}

/// [`grouped_by`], decoded by column position (`positional`): for the large reads.
pub async fn grouped_by_position<E: TenantOwned>(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    column: E::Column,
    keys: &[i64],
    extra: Option<SimpleExpr>,
) -> StoreResult<Vec<E::Model>>
where
    E::Model: Positional,
{
    let statement = grouped_select::<E>(tenant_id, column, keys, extra).build(DbBackend::Postgres);
    decode_all(&db.query_all_raw(statement).await?)
}

/// The query of [`grouped_by`].
fn grouped_select<E: TenantOwned>(
    tenant_id: i64,
    column: E::Column,
    keys: &[i64],
    extra: Option<SimpleExpr>,
) -> Select<E> {
    let mut query = E::find()
        .filter(E::tenant_column().eq(tenant_id))
        .filter(column.eq_any(keys.iter().copied()));
    if let Some(extra) = extra {
        query = query.filter(extra);
    }
    query.order_by_asc(E::id_column())
}

/// Writes the changed columns of `active`, a row of `tenant_id`, and returns the row. The
/// UPDATE names the tenant beside the id (SeaORM's own `update` names only the primary key), so
/// on PostgreSQL distributed by tenant it is routed to the tenant's one shard.
pub async fn update_in_tenant<A>(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    active: A,
) -> StoreResult<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + Send,
    A::Entity: TenantOwned,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    Ok(<A::Entity as EntityTrait>::update(active)
        .validate()?
        .filter(<A::Entity as TenantOwned>::tenant_column().eq(tenant_id))
        .exec(db)
        .await?)
}

/// A raw PostgreSQL statement with positional parameters.
pub fn sql(text: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, text, values)
}

/// Opens a transaction holding this tenant's write lock until it ends.
///
/// Every write that changes the alignment tree or a stored roll-up takes it. Serialising a
/// tenant's writes makes moves race-free (the second of two conflicting moves sees the first
/// and is refused) and keeps ancestor roll-ups exact when siblings are written at once. The
/// critical section is a handful of statements proportional to tree depth, so one tenant
/// still sustains hundreds of writes per second; reads never take it.
pub async fn begin_tenant_write(db: &Db, tenant_id: i64) -> StoreResult<DatabaseTransaction> {
    let txn = db.begin().await?;
    txn.execute_raw(sql(
        // 1735357804 is "goal" as an int4: the lock namespace of goalgraph.
        "SELECT pg_advisory_xact_lock(1735357804, hashint8($1))",
        [tenant_id.into()],
    ))
    .await?;
    Ok(txn)
}

/// Fails with `NotFound(field)` unless row `id` of `E` exists in `tenant_id`.
pub async fn require<E: TenantOwned>(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    id: Option<i64>,
    field: &'static str,
) -> StoreResult<()> {
    let Some(id) = id else {
        return Ok(());
    };
    if by_ids::<E>(db, tenant_id, &[id], None).await?.is_empty() {
        return Err(crate::store::StoreError::NotFound(field));
    }
    Ok(())
}
