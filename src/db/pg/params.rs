//! SeaORM's values bound as parameters of a prepared statement.
//!
//! The server infers each parameter's type from the statement, and
//! `tokio-postgres` refuses a Rust type that is not exactly that type's; a
//! whole number is therefore written in whichever width the parameter has
//! (an `i32` compared with a `smallint` column, a `u64` limit), or as its
//! digits where the parameter is untyped text, and refused only when it does
//! not fit. Every other kind is encoded by its own
//! `ToSql`, which checks the type.

use bytes::BytesMut;
use sea_orm::sea_query::Value;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// One value of a statement, ready to bind.
#[derive(Debug)]
pub(super) struct Param<'a>(&'a Value);

pub(super) fn values(values: &[Value]) -> Vec<Param<'_>> {
    values.iter().map(Param).collect()
}

pub(super) fn bind<'a>(values: &'a [Param<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// The value of a scope setting (`set_config`'s text), written in place
/// without an allocation: a UUID, or the search path of a tenant's own
/// schema (`t_<id>, public`, from the tenant's id and nothing else).
#[derive(Debug)]
pub(super) enum SettingText {
    Id(Uuid),
    Schema(Uuid),
}

impl SettingText {
    pub(super) fn of((name, value): &super::Setting) -> Self {
        if *name == super::SEARCH_PATH {
            SettingText::Schema(*value)
        } else {
            SettingText::Id(*value)
        }
    }
}

impl ToSql for SettingText {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let _ = ty;
        match self {
            SettingText::Id(id) => {
                let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
                out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
            }
            SettingText::Schema(tenant) => {
                let mut buf = [0u8; uuid::fmt::Simple::LENGTH];
                out.extend_from_slice(crate::db::placement::SCHEMA_PREFIX.as_bytes());
                out.extend_from_slice(tenant.simple().encode_lower(&mut buf).as_bytes());
                out.extend_from_slice(b", public");
            }
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        <&str as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

pub(super) fn bind_settings(values: &[SettingText]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn whole(n: Option<i128>, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    let Some(n) = n else { return Ok(IsNull::Yes) };
    let out_of_range = || -> BoxError { format!("{n} does not fit a parameter of type {ty}").into() };
    match *ty {
        Type::INT2 => i16::try_from(n).map_err(|_| out_of_range())?.to_sql(ty, out),
        Type::INT4 => i32::try_from(n).map_err(|_| out_of_range())?.to_sql(ty, out),
        Type::INT8 => i64::try_from(n).map_err(|_| out_of_range())?.to_sql(ty, out),
        Type::OID => u32::try_from(n).map_err(|_| out_of_range())?.to_sql(ty, out),
        // A parameter with nothing to infer its type from is text: SeaORM
        // writes an empty `IN ()` as `$1 = $2` with the values 1 and 2.
        Type::TEXT => n.to_string().to_sql(ty, out),
        _ => Err(format!("a whole number cannot be bound to a parameter of type {ty}").into()),
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            Value::Bool(v) => v.to_sql_checked(ty, out),
            Value::TinyInt(v) => whole(v.map(i128::from), ty, out),
            Value::SmallInt(v) => whole(v.map(i128::from), ty, out),
            Value::Int(v) => whole(v.map(i128::from), ty, out),
            Value::BigInt(v) => whole(v.map(i128::from), ty, out),
            Value::TinyUnsigned(v) => whole(v.map(i128::from), ty, out),
            Value::SmallUnsigned(v) => whole(v.map(i128::from), ty, out),
            Value::Unsigned(v) => whole(v.map(i128::from), ty, out),
            Value::BigUnsigned(v) => whole(v.map(i128::from), ty, out),
            Value::Float(v) => v.to_sql_checked(ty, out),
            Value::Double(v) => v.to_sql_checked(ty, out),
            Value::String(v) => v.as_deref().to_sql_checked(ty, out),
            Value::Char(v) => v.map(String::from).to_sql_checked(ty, out),
            Value::Bytes(v) => v.as_deref().to_sql_checked(ty, out),
            Value::Json(v) => v.as_deref().to_sql_checked(ty, out),
            Value::Uuid(v) => v.to_sql_checked(ty, out),
            Value::ChronoDate(v) => v.to_sql_checked(ty, out),
            Value::ChronoDateTimeUtc(v) => v.to_sql_checked(ty, out),
            Value::ChronoDateTime(v) => v.to_sql_checked(ty, out),
            Value::ChronoDateTimeWithTimeZone(v) => v.to_sql_checked(ty, out),
            other => Err(format!("no parameter encoding for {other:?}").into()),
        }
    }

    // Each kind checks the type in `to_sql`.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_take_the_width_of_their_parameter() {
        let mut out = BytesMut::new();
        let n = Value::Int(Some(3));
        assert!(Param(&n).to_sql(&Type::INT2, &mut out).is_ok());
        assert_eq!(&out[..], &3i16.to_be_bytes());
        out.clear();
        let limit = Value::BigUnsigned(Some(21));
        assert!(Param(&limit).to_sql(&Type::INT8, &mut out).is_ok());
        assert_eq!(&out[..], &21i64.to_be_bytes());
        let big = Value::BigInt(Some(i64::from(i16::MAX) + 1));
        assert!(Param(&big).to_sql(&Type::INT2, &mut out).is_err());
        out.clear();
        assert!(Param(&n).to_sql(&Type::TEXT, &mut out).is_ok());
        assert_eq!(&out[..], b"3");
        let text = Value::String(Some("3".into()));
        assert!(Param(&text).to_sql(&Type::INT4, &mut out).is_err());
        let none = Value::Int(None);
        assert!(matches!(Param(&none).to_sql(&Type::INT4, &mut out), Ok(IsNull::Yes)));
    }

    #[test]
    fn a_uuid_binds_as_its_hyphenated_text() {
        let id = Uuid::now_v7();
        let mut out = BytesMut::new();
        assert!(SettingText::Id(id).to_sql_checked(&Type::TEXT, &mut out).is_ok());
        assert_eq!(&out[..], id.to_string().as_bytes());
        assert!(SettingText::Id(id).to_sql_checked(&Type::UUID, &mut out).is_err());
        let mut out = BytesMut::new();
        assert!(SettingText::Schema(id).to_sql_checked(&Type::TEXT, &mut out).is_ok());
        assert_eq!(
            &out[..],
            format!("{}, public", crate::db::placement::schema_name(id)).as_bytes()
        );
    }
}
