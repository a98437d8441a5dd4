//! The organisation repository: tenants, users, teams (an org-chart tree) and cycles.

use super::Db;
use super::paging::{self, Window};
use crate::domain::team::TeamKind;
use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, SqlErr,
};

use super::entity::{cycle, team, tenant, user};
use super::scoped::{
    begin_tenant_write, by_ids, by_ids_by_position, grouped_by, require, update_in_tenant,
};
use super::tree;
use super::user_cache::UserCache;
use crate::domain::access::Viewer;
use crate::domain::objective::check_move;
use crate::domain::role::Role;
use crate::store::{StoreError, StoreResult};

/// A validated new user.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub name: String,
    pub email: String,
    pub role: Role,
    pub team_id: Option<i64>,
}

/// A validated new team.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTeam {
    pub name: String,
    pub kind: TeamKind,
    pub parent_id: Option<i64>,
}

/// A validated change to a team; `parent_id: Some(None)` makes it a top-level unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TeamPatch {
    pub name: Option<String>,
    pub kind: Option<TeamKind>,
    pub parent_id: Option<Option<i64>>,
}

/// A validated new cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCycle {
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub fiscal_year: i32,
}

/// Reads and writes tenants, users, teams and cycles.
#[derive(Clone)]
pub struct OrgRepo {
    db: Db,
    /// Users by id come from here when it holds them (see [`UserCache`]).
    users: UserCache,
}

impl OrgRepo {
    /// A repository reading users from the database every time (a command's, a test's).
    pub fn new(db: Db) -> Self {
        Self {
            db,
            users: UserCache::default(),
        }
    }

    /// The same repository reading users through `users`, the replica's cache.
    pub fn with_user_cache(self, users: UserCache) -> Self {
        Self { users, ..self }
    }

    /// Creates a tenant with its first admin (for `goalgraph tenant create` and tests).
    #[tracing::instrument(skip(self))]
    pub async fn create_tenant(
        &self,
        name: &str,
        admin: NewUser,
    ) -> StoreResult<(tenant::Model, user::Model)> {
        let txn = self.db.begin().await?;
        let created = tenant::ActiveModel {
            name: Set(name.to_owned()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let admin = insert_user(&txn, created.id, admin).await?;
        txn.commit().await?;
        Ok((created, admin))
    }

    /// Whether any tenant exists (a fresh embedded database has none).
    pub async fn has_tenants(&self) -> StoreResult<bool> {
        Ok(tenant::Entity::find().one(&self.db).await?.is_some())
    }

    /// The user `id` of `tenant_id`, if any (authentication resolves tokens through this).
    pub async fn user(&self, tenant_id: i64, id: i64) -> StoreResult<Option<user::Model>> {
        Ok(self.users_by_ids(tenant_id, &[id]).await?.pop())
    }

    /// The users of `tenant_id` among `ids`: those the replica's cache holds from there, the
    /// rest in one statement (then cached).
    pub async fn users_by_ids(&self, tenant_id: i64, ids: &[i64]) -> StoreResult<Vec<user::Model>> {
        let ticket = self.users.ticket();
        let (mut found, missing) = self.users.get_many(tenant_id, ids);
        crate::store::metrics::record_user_lookups(found.len(), missing.len());
        if !missing.is_empty() {
            // By position: a tree read loads an owner per objective (a thousand for Q2's 1,111).
            let read = by_ids_by_position::<user::Entity>(&self.db, tenant_id, &missing).await?;
            self.users.insert(ticket, &read);
            found.extend(read);
        }
        Ok(found)
    }

    pub async fn users_by_teams(
        &self,
        tenant_id: i64,
        team_ids: &[i64],
    ) -> StoreResult<Vec<user::Model>> {
        grouped_by::<user::Entity>(&self.db, tenant_id, user::Column::TeamId, team_ids, None).await
    }

    /// How many users `tenant_id` has.
    pub async fn users_count(&self, tenant_id: i64) -> StoreResult<u64> {
        Ok(user::Entity::find()
            .filter(user::Column::TenantId.eq(tenant_id))
            .count(&self.db)
            .await?)
    }

    /// Up to `limit` users of `tenant_id` with ids after `after`, by id.
    pub async fn users_page(
        &self,
        tenant_id: i64,
        window: &Window<i64>,
    ) -> StoreResult<Vec<user::Model>> {
        let query = user::Entity::find().filter(user::Column::TenantId.eq(tenant_id));
        Ok(paging::by_id(query, user::Column::Id, window)
            .all(&self.db)
            .await?)
    }

    /// Adds a user to the viewer's tenant.
    #[tracing::instrument(skip(self, viewer, command), fields(tenant = viewer.tenant_id))]
    pub async fn create_user(&self, viewer: &Viewer, command: NewUser) -> StoreResult<user::Model> {
        let txn = self.db.begin().await?;
        let created = insert_user(&txn, viewer.tenant_id, command).await?;
        txn.commit().await?;
        Ok(created)
    }

    pub async fn teams_by_ids(&self, tenant_id: i64, ids: &[i64]) -> StoreResult<Vec<team::Model>> {
        by_ids::<team::Entity>(&self.db, tenant_id, ids, None).await
    }

    pub async fn teams_by_parents(
        &self,
        tenant_id: i64,
        parent_ids: &[i64],
    ) -> StoreResult<Vec<team::Model>> {
        grouped_by::<team::Entity>(
            &self.db,
            tenant_id,
            team::Column::ParentId,
            parent_ids,
            None,
        )
        .await
    }

    /// Up to `limit` teams of the tenant with ids after `after`; `roots_only` keeps top-level
    /// units.
    pub async fn teams_page(
        &self,
        tenant_id: i64,
        roots_only: bool,
        window: &Window<i64>,
    ) -> StoreResult<Vec<team::Model>> {
        let query = teams(tenant_id, roots_only);
        Ok(paging::by_id(query, team::Column::Id, window)
            .all(&self.db)
            .await?)
    }

    /// How many teams of `tenant_id` there are (top-level ones only with `roots_only`).
    pub async fn teams_count(&self, tenant_id: i64, roots_only: bool) -> StoreResult<u64> {
        Ok(teams(tenant_id, roots_only).count(&self.db).await?)
    }

    /// The ids of `team_id` and all its sub-teams.
    pub async fn team_subtree_ids(&self, tenant_id: i64, team_id: i64) -> StoreResult<Vec<i64>> {
        Ok(
            tree::team_subtrees(&self.db, tenant_id, &[team_id], i32::MAX)
                .await?
                .into_iter()
                .map(|entry| entry.team.id)
                .collect(),
        )
    }

    /// Adds a team under an existing one (or at the top).
    #[tracing::instrument(skip(self, viewer, command), fields(tenant = viewer.tenant_id))]
    pub async fn create_team(&self, viewer: &Viewer, command: NewTeam) -> StoreResult<team::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        require::<team::Entity>(&txn, viewer.tenant_id, command.parent_id, "parentId").await?;
        let created = team::ActiveModel {
            tenant_id: Set(viewer.tenant_id),
            parent_id: Set(command.parent_id),
            name: Set(command.name),
            kind: Set(command.kind),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    /// Renames, re-kinds or re-parents a team; refuses a parent inside its own subtree.
    #[tracing::instrument(skip(self, viewer, patch), fields(tenant = viewer.tenant_id))]
    pub async fn update_team(
        &self,
        viewer: &Viewer,
        id: i64,
        patch: TeamPatch,
    ) -> StoreResult<team::Model> {
        let txn = begin_tenant_write(&self.db, viewer.tenant_id).await?;
        let current = by_ids::<team::Entity>(&txn, viewer.tenant_id, &[id], None)
            .await?
            .pop()
            .ok_or(StoreError::NotFound("id"))?;
        if let Some(Some(parent)) = patch.parent_id {
            require::<team::Entity>(&txn, viewer.tenant_id, Some(parent), "parentId").await?;
            let mut parent_chain = tree::team_ancestor_ids(&txn, viewer.tenant_id, parent).await?;
            parent_chain.push(parent);
            check_move(id, parent, &parent_chain)?;
        }
        let mut active = current.into_active_model();
        if let Some(name) = patch.name {
            active.name = Set(name);
        }
        if let Some(kind) = patch.kind {
            active.kind = Set(kind);
        }
        if let Some(parent) = patch.parent_id {
            active.parent_id = Set(parent);
        }
        let updated = update_in_tenant(&txn, viewer.tenant_id, active).await?;
        txn.commit().await?;
        Ok(updated)
    }

    pub async fn cycles_by_ids(
        &self,
        tenant_id: i64,
        ids: &[i64],
    ) -> StoreResult<Vec<cycle::Model>> {
        by_ids::<cycle::Entity>(&self.db, tenant_id, ids, None).await
    }

    /// The tenant's cycles, latest start first.
    pub async fn cycles(&self, tenant_id: i64, limit: u64) -> StoreResult<Vec<cycle::Model>> {
        Ok(cycle::Entity::find()
            .filter(cycle::Column::TenantId.eq(tenant_id))
            .order_by_desc(cycle::Column::StartsOn)
            .order_by_desc(cycle::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Adds a planning cycle; names are unique within a tenant.
    #[tracing::instrument(skip(self, viewer, command), fields(tenant = viewer.tenant_id))]
    pub async fn create_cycle(
        &self,
        viewer: &Viewer,
        command: NewCycle,
    ) -> StoreResult<cycle::Model> {
        cycle::ActiveModel {
            tenant_id: Set(viewer.tenant_id),
            name: Set(command.name),
            starts_on: Set(command.starts_on),
            ends_on: Set(command.ends_on),
            fiscal_year: Set(command.fiscal_year),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .map_err(|err| unique_as_conflict(err, "a cycle with this name already exists"))
    }
}

async fn insert_user(
    txn: &sea_orm::DatabaseTransaction,
    tenant_id: i64,
    command: NewUser,
) -> StoreResult<user::Model> {
    require::<team::Entity>(txn, tenant_id, command.team_id, "teamId").await?;
    user::ActiveModel {
        tenant_id: Set(tenant_id),
        team_id: Set(command.team_id),
        name: Set(command.name),
        email: Set(command.email),
        role: Set(command.role),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(|err| unique_as_conflict(err, "a user with this email already exists"))
}

/// A unique-constraint violation becomes a `Conflict` with `message`; anything else stays a
/// database error.
fn unique_as_conflict(err: DbErr, message: &str) -> StoreError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict(message.to_owned()),
        _ => StoreError::Db(err),
    }
}

/// The teams of `tenant_id` (top-level ones only with `roots_only`), unordered and unpaged.
fn teams(tenant_id: i64, roots_only: bool) -> Select<team::Entity> {
    let query = team::Entity::find().filter(team::Column::TenantId.eq(tenant_id));
    if roots_only {
        query.filter(team::Column::ParentId.is_null())
    } else {
        query
    }
}
