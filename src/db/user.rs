//! The user seam: the same guarantees as the tenant seam, keyed on a person.
//! Every read is filtered to the rows the person may see
//! (`entity::UserVisible`: their own, their memberships and those tenants),
//! every insert is stamped with it, every update and delete is confined to
//! it, and on
//! PostgreSQL every transaction carries it in `app.user_id` for row-level
//! security. A user transaction never carries a tenant: it can read the
//! person's own memberships and the tenants they belong to, nothing else of a
//! tenant's.

use entity::{UserScoped, UserVisible};
use sea_orm::sea_query::IntoCondition;
use sea_orm::{ActiveModelBehavior, ActiveModelTrait, DbErr, IntoActiveModel, QueryFilter};
use uuid::Uuid;

use super::owned;
use super::select::ScopedSelect;
use super::tx::Tx;

/// Data access for one person. Made only from an authenticated session or
/// a verified credential (see `Db::for_user`).
#[derive(Debug, Clone)]
pub struct UserDb {
    conn: super::Conn,
    user: Uuid,
}

impl UserDb {
    pub(super) fn new(conn: super::Conn, user: Uuid) -> Self {
        Self { conn, user }
    }

    pub fn user_id(&self) -> Uuid {
        self.user
    }

    pub async fn read(&self) -> Result<UserTx, DbErr> {
        self.begin(false).await
    }

    pub async fn write(&self) -> Result<UserTx, DbErr> {
        self.begin(true).await
    }

    async fn begin(&self, write: bool) -> Result<UserTx, DbErr> {
        let tx = Tx::begin(&self.conn, &[(migration::APP_USER_SETTING, self.user)], write).await?;
        Ok(UserTx { tx, user: self.user })
    }
}

/// A transaction confined to one person. Dropped without [`UserTx::commit`]
/// it rolls back.
pub struct UserTx {
    tx: Tx,
    user: Uuid,
}

impl std::fmt::Debug for UserTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTx")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "this is the seam: every unscoped call here is scoped before it runs"
)]
impl UserTx {
    pub fn user_id(&self) -> Uuid {
        self.user
    }

    /// A query over the rows of `E` this person may see (their own, or
    /// those the entity makes visible to them), and only those.
    pub fn find<E: UserVisible>(&self) -> ScopedSelect<'_, E> {
        ScopedSelect::new(&self.tx, E::find().filter(E::visible_to_user(self.user)))
    }

    /// Inserts `model` with its owner overwritten by this person.
    pub async fn insert<E, A>(&self, model: A) -> Result<E::Model, DbErr>
    where
        E: UserScoped,
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
        E::Model: IntoActiveModel<A> + super::pg::Decode,
    {
        owned::insert(&self.tx, E::user_column(), self.user, model).await
    }

    /// Writes the set fields of `model` to every row of this person's that
    /// matches `condition`; returns how many rows changed. The owner column
    /// is never changed.
    pub async fn update_where<E, A>(&self, condition: impl IntoCondition, model: A) -> Result<u64, DbErr>
    where
        E: UserScoped,
        A: ActiveModelTrait<Entity = E> + Send,
    {
        owned::update(&self.tx, E::user_column(), self.user, &[], condition, model).await
    }

    /// Deletes this person's rows of `E` that match `condition`.
    pub async fn delete_where<E: UserScoped>(&self, condition: impl IntoCondition) -> Result<u64, DbErr> {
        owned::delete::<E>(&self.tx, E::user_column(), self.user, condition).await
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.tx.commit().await
    }
}
