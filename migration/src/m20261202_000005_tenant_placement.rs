//! Where each tenant's data lives: its placement (`shared`, the default:
//! rows in the shared tables; `schema`: a PostgreSQL schema of its own;
//! `database`: a database of its own) and, outside the shared tables, its
//! location (the schema's name, or the database's name in configuration or
//! its file). Every tenant made before this migration is `shared`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Placement,
    Location,
}

/// The placements a tenant may have.
pub const PLACEMENTS: &[&str] = &["shared", "schema", "database"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let known = Expr::col(Tenants::Placement).is_in(PLACEMENTS.iter().copied());
        // One column per statement: SQLite adds one at a time.
        for column in [
            text(Tenants::Placement).default("shared").check(known).to_owned(),
            text_null(Tenants::Location),
        ] {
            manager
                .alter_table(Table::alter().table(Tenants::Table).add_column(column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Tenants::Location, Tenants::Placement] {
            manager
                .alter_table(Table::alter().table(Tenants::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
