//! Input field types whose limits stand in the spec (`maxLength`, `minimum`…)
//! but whose parsing accepts any value of the right JSON type, so that every
//! broken limit is reported at once with a 422 while a wrong JSON type
//! remains a 400.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type};
use serde_json::Value;

use crate::domain::{Patch, Violations};

/// The `pattern` of every text input: no NUL character (PostgreSQL text
/// cannot hold one, so the rules refuse it on every backend).
pub const NO_NUL: &str = "^[^\\u0000]*$";

/// A string of `MIN..=MAX` characters without NUL. `null` or absent parses
/// to `None` (reported as `required` by the rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MIN: usize, const MAX: usize>(pub Option<String>);

impl<const MIN: usize, const MAX: usize> Type for Text<MIN, MAX> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            min_length: (MIN > 0).then_some(MIN),
            max_length: Some(MAX),
            pattern: Some(NO_NUL.to_owned()),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<const MIN: usize, const MAX: usize> ParseFromJSON for Text<MIN, MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Self(None)),
            Some(Value::String(s)) => Ok(Self(Some(s))),
            Some(other) => Err(ParseError::expected_type(other)),
        }
    }
}

impl<const MIN: usize, const MAX: usize> ToJSON for Text<MIN, MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone().map_or(Value::Null, Value::String))
    }
}

impl<const MIN: usize, const MAX: usize> From<&str> for Text<MIN, MAX> {
    fn from(s: &str) -> Self {
        Self(Some(s.to_owned()))
    }
}

/// A page size as lists take it: 1 to [`crate::domain::MAX_PAGE_SIZE`].
pub type PageSize = Int<1, { crate::domain::MAX_PAGE_SIZE }>;

/// An integer in `MIN..=MAX`. Any JSON integer parses; the range is checked
/// by the rules. Also usable as a query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int<const MIN: i64, const MAX: i64>(pub Option<i64>);

impl<const MIN: i64, const MAX: i64> Type for Int<MIN, MAX> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "integer".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            minimum: Some(MIN as f64),
            maximum: Some(MAX as f64),
            ..MetaSchema::new_with_format("integer", "int64")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<const MIN: i64, const MAX: i64> ParseFromJSON for Int<MIN, MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Self(None)),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(|n| Self(Some(n)))
                .ok_or_else(|| ParseError::custom("expected an integer")),
            Some(other) => Err(ParseError::expected_type(other)),
        }
    }
}

impl<const MIN: i64, const MAX: i64> ParseFromParameter for Int<MIN, MAX> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        value
            .parse::<i64>()
            .map(|n| Self(Some(n)))
            .map_err(|_| ParseError::custom("expected an integer"))
    }
}

impl<const MIN: i64, const MAX: i64> ToJSON for Int<MIN, MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.map_or(Value::Null, Value::from))
    }
}

/// The `Type`, `ToJSON` and `ParseFromJSON` of a wrapper over `Option<T>`
/// whose field is `required` in the spec with `T`'s schema, and which takes
/// `null` or absence as `None` (a value of another JSON type stays a 400).
macro_rules! present_or_null {
    ($wrapper:ident) => {
        impl<T: Type> Type for $wrapper<T> {
            const IS_REQUIRED: bool = true;
            type RawValueType = T::RawValueType;
            type RawElementValueType = T::RawElementValueType;

            fn name() -> Cow<'static, str> {
                T::name()
            }

            fn schema_ref() -> MetaSchemaRef {
                T::schema_ref()
            }

            fn register(registry: &mut poem_openapi::registry::Registry) {
                T::register(registry);
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                self.0.as_ref().and_then(Type::as_raw_value)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                match &self.0 {
                    Some(v) => v.raw_element_iter(),
                    None => Box::new(std::iter::empty()),
                }
            }
        }

        impl<T: ToJSON> ToJSON for $wrapper<T> {
            fn to_json(&self) -> Option<Value> {
                Some(self.0.as_ref().and_then(ToJSON::to_json).unwrap_or(Value::Null))
            }
        }

        impl<T: ParseFromJSON> ParseFromJSON for $wrapper<T> {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value {
                    None | Some(Value::Null) => Ok(Self(None)),
                    Some(v) => T::parse_from_json(Some(v))
                        .map(|v| Self(Some(v)))
                        .map_err(ParseError::propagate),
                }
            }
        }
    };
}

/// A field that is always present and may be `null`: required and
/// `nullable` in the spec (declare `#[oai(nullable)]` on the field), so
/// generated clients type it `T | null` rather than optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nullable<T>(pub Option<T>);

present_or_null!(Nullable);

impl<T> From<Option<T>> for Nullable<T> {
    fn from(v: Option<T>) -> Self {
        Self(v)
    }
}

/// A required input field of any type: `null` or absent parses to `None`,
/// which the rules report as `required` (422) with every other broken rule,
/// while a value of the wrong JSON type stays a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required<T>(pub Option<T>);

present_or_null!(Required);

impl<T> From<T> for Required<T> {
    fn from(v: T) -> Self {
        Self(Some(v))
    }
}

impl<T> Required<T> {
    /// The value of the body's only field, or a 422 naming `field`.
    pub fn require(self, field: &str) -> crate::domain::Result<T> {
        self.0.ok_or_else(|| {
            crate::domain::Error::Invalid(vec![crate::domain::Violation {
                field: field.to_owned(),
                code: "required",
                message: "is required".to_owned(),
            }])
        })
    }
}

/// An email address: a string of at most 254 characters with `format:
/// email` in the spec. Any string parses; its shape is checked by the rules
/// (422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(pub Option<String>);

impl Type for Email {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_email".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            min_length: Some(crate::domain::accounts::EMAIL_MIN),
            max_length: Some(crate::domain::accounts::EMAIL_MAX),
            ..MetaSchema::new_with_format("string", "email")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromJSON for Email {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Text::<0, 0>::parse_from_json(value)
            .map(|t| Self(t.0))
            .map_err(ParseError::propagate)
    }
}

impl ToJSON for Email {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone().map_or(Value::Null, Value::String))
    }
}

impl From<&str> for Email {
    fn from(s: &str) -> Self {
        Self(Some(s.to_owned()))
    }
}

/// A field that may be omitted but is not `nullable`: its value, `None` when
/// absent, and a `not_null` violation for `field` when sent as `null` (so an
/// SDK that writes an unset field as `null` is told, rather than given a
/// default it did not ask for).
pub fn omittable<T>(v: &mut Violations, field: &str, value: poem_openapi::types::MaybeUndefined<T>) -> Option<T> {
    let value = patch(value, Some);
    v.not_null(field, &value);
    match value {
        Patch::Value(value) => Some(value),
        Patch::Absent | Patch::Null => None,
    }
}

/// A page cursor as a query parameter: the `next_cursor` of an earlier
/// page. The spec states its shape (1 to 512 URL-safe base64 characters);
/// any string parses, and one that is not a cursor this server issued for
/// the same query is a 400 (`invalid_cursor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub String);

impl Type for Cursor {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_cursor".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            min_length: Some(1),
            max_length: Some(crate::domain::cursor::MAX_CURSOR_LEN),
            pattern: Some("^[A-Za-z0-9_-]+$".to_owned()),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromParameter for Cursor {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(value.to_owned()))
    }
}

/// A calendar day, `YYYY-MM-DD` (`format: date` in the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub chrono::NaiveDate);

impl Date {
    fn parse(s: &str) -> Option<Self> {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|_| s.len() == 10)
            .map(Self)
    }
}

impl Type for Date {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date")))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromJSON for Date {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => {
                Self::parse(&s).ok_or_else(|| ParseError::custom("expected a date as YYYY-MM-DD"))
            }
            Some(other) => Err(ParseError::expected_type(other)),
            None => Err(ParseError::expected_input()),
        }
    }
}

impl ParseFromParameter for Date {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Self::parse(value).ok_or_else(|| ParseError::custom("expected a date as YYYY-MM-DD"))
    }
}

impl ToJSON for Date {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.format("%Y-%m-%d").to_string()))
    }
}

/// `MaybeUndefined` as the rules see it.
pub fn patch<T, U>(value: poem_openapi::types::MaybeUndefined<T>, inner: impl FnOnce(T) -> Option<U>) -> Patch<U> {
    use poem_openapi::types::MaybeUndefined;
    match value {
        MaybeUndefined::Undefined => Patch::Absent,
        MaybeUndefined::Null => Patch::Null,
        MaybeUndefined::Value(v) => inner(v).map_or(Patch::Null, Patch::Value),
    }
}

/// Declares a page type: the same `{items, next_cursor}` shape for every list
/// (`serialize`: also serde's, for [`Body`]; the items must have it too).
macro_rules! page {
    ($name:ident, $item:ty, $doc:literal, serialize) => {
        $crate::api::types::page!($name, $item, $doc, #[derive(serde::Serialize)]);
    };
    ($name:ident, $item:ty, $doc:literal $(, #[$extra:meta])?) => {
        #[doc = $doc]
        #[derive(poem_openapi::Object, Debug)]
        $(#[$extra])?
        pub struct $name {
            /// The rows of this page, in order.
            pub items: Vec<$item>,
            /// Pass as `cursor` to read the next page; `null` when no rows follow this page.
            #[oai(nullable)]
            pub next_cursor: $crate::api::types::Nullable<String>,
        }

        impl $name {
            pub fn from_page<T>(page: $crate::domain::Page<T>) -> Self
            where
                $item: From<T>,
            {
                Self {
                    items: page.items.into_iter().map(<$item>::from).collect(),
                    next_cursor: page.next_cursor.into(),
                }
            }
        }
    };
}
pub(crate) use page;

/// A JSON response body serialized straight from its struct (serde), under
/// the schema of `T`: on the wire and in the spec exactly what
/// `poem_openapi::payload::Json<T>` gives, without first building a
/// `serde_json::Value` tree of the whole response. A type used here keeps a
/// test that its serde form equals its `ToJSON` form.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: Type> poem_openapi::payload::Payload for Body<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        <poem_openapi::payload::Json<T> as poem_openapi::payload::Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }
}

impl<T: serde::Serialize + Send> poem::IntoResponse for Body<T> {
    fn into_response(self) -> poem::Response {
        poem::web::Json(self.0).into_response()
    }
}

impl<T: Type + serde::Serialize + Send> poem_openapi::ApiResponse for Body<T> {
    fn meta() -> poem_openapi::registry::MetaResponses {
        use poem_openapi::payload::Payload;
        poem_openapi::registry::MetaResponses {
            responses: vec![poem_openapi::registry::MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![poem_openapi::registry::MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }
}

/// A time as `ToJSON` writes it (`to_rfc3339`: `+00:00`, not `Z`, and as
/// many fractional digits, 0, 3, 6 or 9, as the time needs), written into a
/// buffer on the stack.
pub fn rfc3339<S: serde::Serializer>(at: &chrono::DateTime<chrono::Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 38];
    match write_rfc3339(at, &mut buf) {
        Some(text) => s.serialize_str(text),
        None => s.serialize_str(&at.to_rfc3339()),
    }
}

/// `to_rfc3339()`'s text in `buf`; `None` for what it writes otherwise
/// (years outside 0–9999, leap seconds).
fn write_rfc3339<'b>(at: &chrono::DateTime<chrono::Utc>, buf: &'b mut [u8; 38]) -> Option<&'b str> {
    use chrono::{Datelike, Timelike};
    struct Out<'b> {
        buf: &'b mut [u8; 38],
        len: usize,
    }
    impl Out<'_> {
        fn digits(&mut self, value: u32, width: u32) {
            for i in (0..width).rev() {
                self.byte(b'0' + (value / 10u32.pow(i) % 10) as u8);
            }
        }
        fn byte(&mut self, b: u8) {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }
    let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = at.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let mut out = Out { buf, len: 0 };
    out.digits(year, 4);
    out.byte(b'-');
    out.digits(at.month(), 2);
    out.byte(b'-');
    out.digits(at.day(), 2);
    out.byte(b'T');
    out.digits(at.hour(), 2);
    out.byte(b':');
    out.digits(at.minute(), 2);
    out.byte(b':');
    out.digits(at.second(), 2);
    if nanos != 0 {
        out.byte(b'.');
        if nanos.is_multiple_of(1_000_000) {
            out.digits(nanos / 1_000_000, 3);
        } else if nanos.is_multiple_of(1_000) {
            out.digits(nanos / 1_000, 6);
        } else {
            out.digits(nanos, 9);
        }
    }
    for b in *b"+00:00" {
        out.byte(b);
    }
    let Out { buf, len } = out;
    std::str::from_utf8(&buf[..len]).ok()
}

/// A small value (an enumeration, a date) as its `ToJSON` form.
pub fn via_to_json<T: ToJSON, S: serde::Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&value.to_json().unwrap_or(Value::Null), s)
}

impl<T: serde::Serialize> serde::Serialize for Nullable<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

#[cfg(test)]
mod rfc3339_tests {
    #[test]
    fn the_stack_form_is_to_rfc3339() {
        use chrono::TimeZone;
        let base = chrono::Utc
            .with_ymd_and_hms(2026, 1, 9, 7, 5, 3)
            .single()
            .expect("time");
        for nanos in [
            0,
            1,
            999,
            1_000,
            120_000,
            123_456_000,
            100_000_000,
            999_999_999,
            5_000_000,
        ] {
            let at = base + chrono::Duration::nanoseconds(nanos);
            let mut buf = [0u8; 38];
            assert_eq!(
                super::write_rfc3339(&at, &mut buf),
                Some(at.to_rfc3339().as_str()),
                "{nanos}"
            );
        }
        let early = chrono::Utc
            .with_ymd_and_hms(5, 12, 31, 23, 59, 59)
            .single()
            .expect("time");
        let mut buf = [0u8; 38];
        assert_eq!(
            super::write_rfc3339(&early, &mut buf),
            Some(early.to_rfc3339().as_str())
        );
    }
}
