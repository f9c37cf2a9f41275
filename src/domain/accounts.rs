//! People: signup, the tenant a sign-in lands in, and what a person sees of
//! themselves. Passwords are checked and hashed in `auth::password`; this
//! module only applies the rules to the other fields.

use chrono::{DateTime, Utc};
use entity::{membership, tenant, user};
use sea_orm::{ColumnTrait, Order, Set};
use uuid::Uuid;

use super::{Error, Result, Valid, Violations, tenants};
use secrecy::SecretString;

use crate::access::Role;
use crate::db::{PlatformDb, UserTx};

pub type User = user::Model;

pub const EMAIL_MIN: usize = 3;
pub const EMAIL_MAX: usize = 254;
pub const NAME_MAX: usize = 200;

/// Checks an email's length as sent (the spec's `minLength`/`maxLength`),
/// lowercases and trims it, and checks its shape: one `@`, a local part, a
/// domain with a dot, no spaces.
pub fn normalize_email(v: &mut Violations, field: &str, raw: &str) -> String {
    v.text(field, raw, EMAIL_MIN, EMAIL_MAX);
    let email = raw.trim().to_lowercase();
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    let length_ok = (EMAIL_MIN..=EMAIL_MAX).contains(&raw.chars().count()) && !raw.contains('\0');
    if !valid && length_ok {
        v.push(field, "invalid", "must be an email address");
    }
    email
}

/// A signup that passed the rules (the password is checked separately).
#[derive(Debug)]
pub struct Signup {
    pub email: String,
    pub name: String,
    pub tenant_name: String,
    /// `None`: derive one from the tenant's name.
    pub tenant_slug: Option<String>,
}

pub fn validate_signup(
    v: &mut Violations,
    email: &str,
    name: &str,
    tenant_name: &str,
    tenant_slug: Option<&str>,
) -> Signup {
    let email = normalize_email(v, "email", email);
    v.text("name", name.trim(), 1, NAME_MAX);
    v.text("tenant_name", tenant_name.trim(), 1, tenants::NAME_MAX);
    let tenant_slug = tenant_slug.map(|slug| {
        let mut slug_v = Violations::default();
        let slug = tenants::normalize_slug(&mut slug_v, slug);
        v.extend_prefixed(slug_v, "tenant_");
        slug
    });
    Signup {
        email,
        name: name.trim().to_owned(),
        tenant_name: tenant_name.trim().to_owned(),
        tenant_slug,
    }
}

/// A person the operator creates (CLI), checked: email, name and password policy.
pub fn new_user(email: &str, name: Option<&str>, password: &SecretString, now: DateTime<Utc>) -> Result<Valid<User>> {
    use secrecy::ExposeSecret;
    let mut v = Violations::default();
    let email = normalize_email(&mut v, "email", email);
    let local = email.split('@').next().unwrap_or_default().to_owned();
    let name = name.map_or_else(|| local.clone(), |n| n.trim().to_owned());
    v.text("name", &name, 1, NAME_MAX);
    if let Err(p) = crate::auth::password::check_policy(password.expose_secret(), &[&email, &local, &name]) {
        v.push("password", p.code, p.message);
    }
    v.finish()?;
    Ok(Valid(User {
        id: Uuid::now_v7(),
        email,
        name,
        password_hash: String::new(),
        last_tenant_id: None,
        created_at: now,
        updated_at: now,
    }))
}

/// Stores a person made by [`new_user`] with `password_hash`, and their
/// membership in `tenant` with `role` when given.
pub async fn create_user(
    platform: &PlatformDb,
    user: Valid<User>,
    password_hash: String,
    membership: Option<(Uuid, Role)>,
) -> Result<User> {
    let mut user = user.0;
    user.password_hash = password_hash;
    user.last_tenant_id = membership.map(|(tenant, _)| tenant);
    let membership = membership.map(|(tenant, role)| membership::Model {
        tenant_id: tenant,
        user_id: user.id,
        role: role.as_str().to_owned(),
        created_at: user.created_at,
        updated_at: user.created_at,
    });
    platform
        .create_user(user.clone(), membership)
        .await
        .map_err(|e| Error::conflict_on_unique(e, "an account with this email already exists"))?;
    Ok(user)
}

/// A slug made from a tenant's name: lowercase ASCII letters and digits, other
/// runs turned into single hyphens, cut to fit; `team` when nothing is left.
pub fn slug_from_name(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    // Room for a `-NNNN` suffix on collision.
    let mut slug: String = slug.chars().take(tenants::SLUG_MAX - 6).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    while slug.len() < tenants::SLUG_MIN {
        slug.push_str(if slug.is_empty() { "team" } else { "-team" });
    }
    slug
}

/// The models a signup writes: the person, their tenant and the owner membership.
pub fn signup_models(
    signup: &Valid<Signup>,
    slug: String,
    password_hash: String,
    now: DateTime<Utc>,
) -> (User, tenant::Model, membership::Model) {
    let user = User {
        id: Uuid::now_v7(),
        email: signup.email.clone(),
        name: signup.name.clone(),
        password_hash,
        last_tenant_id: None,
        created_at: now,
        updated_at: now,
    };
    let tenant = tenant::Model {
        id: Uuid::now_v7(),
        slug,
        name: signup.tenant_name.clone(),
        created_at: now,
        updated_at: now,
        placement: tenant::Placement::Shared.as_str().to_owned(),
        location: None,
        storage_version: None,
        storage_error: None,
        plan: None,
    };
    let membership = membership::Model {
        tenant_id: tenant.id,
        user_id: user.id,
        role: Role::Owner.as_str().to_owned(),
        created_at: now,
        updated_at: now,
    };
    let mut user = user;
    user.last_tenant_id = Some(tenant.id);
    (user, tenant, membership)
}

pub fn valid_signup(signup: Signup) -> Valid<Signup> {
    Valid(signup)
}

/// One of a person's memberships, with its tenant.
#[derive(Debug, Clone)]
pub struct Membership {
    pub tenant: tenant::Model,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// This person and their memberships.
pub async fn me(tx: &UserTx) -> Result<(User, Vec<Membership>)> {
    let user = profile(tx).await?;
    Ok((user, memberships(tx).await?))
}

pub async fn profile(tx: &UserTx) -> Result<User> {
    tx.find::<user::Entity>().one().await?.ok_or(Error::NotFound("user"))
}

/// The person's memberships, with their tenants, oldest first.
pub async fn memberships(tx: &UserTx) -> Result<Vec<Membership>> {
    let memberships = tx
        .find::<membership::Entity>()
        .order_by(membership::Column::CreatedAt, Order::Asc)
        .order_by(membership::Column::TenantId, Order::Asc)
        .all()
        .await?;
    if memberships.is_empty() {
        return Ok(Vec::new());
    }
    let tenants = tx
        .find::<tenant::Entity>()
        .filter(tenant::Column::Id.is_in(memberships.iter().map(|m| m.tenant_id)))
        .all()
        .await?;
    Ok(memberships
        .into_iter()
        .filter_map(|m| {
            let tenant = tenants.iter().find(|t| t.id == m.tenant_id)?.clone();
            Some(Membership {
                role: Role::parse(&m.role)?,
                tenant,
                joined_at: m.created_at,
            })
        })
        .collect())
}

/// The membership a sign-in lands in: the named tenant (an id or a slug),
/// else the last one used, else the oldest.
pub async fn choose_membership(tx: &UserTx, user: &User, tenant: Option<&str>) -> Result<Membership> {
    let all = memberships(tx).await?;
    if all.is_empty() {
        return Err(Error::Forbidden(
            "this account belongs to no tenant; ask a tenant's admin to add you".to_owned(),
        ));
    }
    let chosen = match tenant.map(str::trim) {
        Some(wanted) => {
            let id = Uuid::parse_str(wanted).ok();
            let slug = wanted.to_lowercase();
            all.into_iter()
                .find(|m| Some(m.tenant.id) == id || m.tenant.slug == slug)
                .ok_or(Error::NotFound("tenant"))?
        }
        None => {
            let last = all.iter().position(|m| Some(m.tenant.id) == user.last_tenant_id);
            let index = last.unwrap_or(0);
            all.into_iter().nth(index).ok_or(Error::NotFound("tenant"))?
        }
    };
    Ok(chosen)
}

/// Remembers where this person last signed in.
pub async fn remember_tenant(tx: &UserTx, tenant: Uuid, now: DateTime<Utc>) -> Result<()> {
    tx.update_where(
        user::Column::Id.eq(tx.user_id()),
        user::ActiveModel {
            last_tenant_id: Set(Some(tenant)),
            updated_at: Set(now),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

/// Stores a new password hash.
pub async fn set_password_hash(tx: &UserTx, hash: String, now: DateTime<Utc>) -> Result<()> {
    tx.update_where(
        user::Column::Id.eq(tx.user_id()),
        user::ActiveModel {
            password_hash: Set(hash),
            updated_at: Set(now),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_names() {
        assert_eq!(slug_from_name("Acme Corp."), "acme-corp");
        assert_eq!(slug_from_name("  Ünïcode & Co "), "n-code-co");
        assert_eq!(slug_from_name("!!"), "team");
        assert_eq!(slug_from_name("ab"), "ab-team");
        assert!(slug_from_name(&"x".repeat(300)).len() <= tenants::SLUG_MAX - 6);
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        let mut v = Violations::default();
        assert_eq!(
            normalize_email(&mut v, "email", "  Alice@Example.COM "),
            "alice@example.com"
        );
        assert!(v.finish().is_ok());
        for bad in [
            "alice",
            "alice@",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@@example.com",
        ] {
            let mut v = Violations::default();
            normalize_email(&mut v, "email", bad);
            assert!(v.finish().is_err(), "{bad}");
        }
    }
}
