//! Loaders for the organisation: teams, sub-teams, users and cycles; and tenants' data
//! versions (the report cache's key).

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::{Stores, by_id, every_key, grouped};
use crate::domain::access::Viewer;
use crate::error::AppError;
use crate::store::pg::entity::{cycle, team, user};
use crate::store::pg::org::OrgRepo;

macro_rules! org_loader {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        pub struct $name {
            repo: OrgRepo,
            viewer: Viewer,
        }

        impl $name {
            pub fn new(stores: &Stores, viewer: Viewer) -> Self {
                Self {
                    repo: stores.org.clone(),
                    viewer,
                }
            }
        }
    };
}

org_loader!(TeamById, "Teams by id.");
org_loader!(SubTeamsOf, "Direct sub-teams by parent team id.");
org_loader!(UserById, "Users by id.");
org_loader!(UsersOfTeam, "Members by team id.");
org_loader!(CycleById, "Cycles by id.");

impl Loader<i64> for TeamById {
    type Value = team::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self.repo.teams_by_ids(self.viewer.tenant_id, keys).await?;
        Ok(by_id(rows, |t| t.id))
    }
}

impl Loader<i64> for SubTeamsOf {
    type Value = Vec<team::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self
            .repo
            .teams_by_parents(self.viewer.tenant_id, keys)
            .await?;
        Ok(every_key(
            keys,
            grouped(rows, |t| t.parent_id.unwrap_or_default()),
        ))
    }
}

impl Loader<i64> for UserById {
    type Value = user::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self.repo.users_by_ids(self.viewer.tenant_id, keys).await?;
        Ok(by_id(rows, |u| u.id))
    }
}

impl Loader<i64> for UsersOfTeam {
    type Value = Vec<user::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self
            .repo
            .users_by_teams(self.viewer.tenant_id, keys)
            .await?;
        Ok(every_key(
            keys,
            grouped(rows, |u| u.team_id.unwrap_or_default()),
        ))
    }
}

impl Loader<i64> for CycleById {
    type Value = cycle::Model;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = self.repo.cycles_by_ids(self.viewer.tenant_id, keys).await?;
        Ok(by_id(rows, |c| c.id))
    }
}

/// Tenants' data versions (one per request at most: reports key their cached answers by it).
pub struct DataVersionOf {
    db: crate::store::pg::Db,
}

impl DataVersionOf {
    pub fn new(stores: &Stores) -> Self {
        Self {
            db: stores.objectives.db().clone(),
        }
    }
}

impl Loader<i64> for DataVersionOf {
    type Value = crate::store::pg::data_version::DataVersion;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        Ok(crate::store::pg::data_version::current(&self.db, keys).await?)
    }
}
