//! The REST data model (camelCase JSON) and its mapping to the WIT types.
//!
//! The REST shapes are their own public contract (B2Connect's .NET core
//! reads them), so they are spelled out here instead of serializing the
//! generated WIT types directly: timestamps become RFC 3339, names follow
//! JSON conventions, and a WIT change cannot silently change the API.
//! This module holds what every kind shares (timestamps, integers, money,
//! batch answers); `erp`, `crm` and `pim` hold each provider's shapes.
use super::problem::ApiError;
use crate::bindings::types as wit;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod crm;
mod erp;
mod pim;

pub use crm::*;
pub use erp::*;
pub use pim::*;
/// Formats a WIT timestamp (ms since epoch) as RFC 3339 UTC; outside
/// the years 0000–9999, which RFC 3339 cannot spell, as the number.
pub fn format_ts(ms: i64) -> String {
    let mut buf = [0; 24];
    rfc3339_ms(ms, &mut buf).map_or_else(|| ms.to_string(), str::to_string)
}

/// `ms` as RFC 3339 UTC in `buf` (the `time` crate's spelling: fraction
/// only when non-zero, trailing zeros dropped), or `None` outside the
/// years 0000–9999. Written by hand because every streamed record has a
/// timestamp, and `time`'s formatter allocates (a test holds the two equal).
fn rfc3339_ms(ms: i64, buf: &mut [u8; 24]) -> Option<&str> {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Days to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let (secs, frac) = (ms_of_day / 1000, ms_of_day % 1000);
    *buf = *b"0000-00-00T00:00:00.000Z";
    let mut digits = |at: usize, width: usize, v: i64| {
        let mut v = v;
        for b in buf[at..at + width].iter_mut().rev() {
            *b = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(0, 4, year);
    digits(5, 2, month);
    digits(8, 2, day);
    digits(11, 2, secs / 3600);
    digits(14, 2, secs / 60 % 60);
    digits(17, 2, secs % 60);
    digits(20, 3, frac);
    // No fraction when it is zero, else without its trailing zeros.
    let end = match frac {
        0 => 19,
        f if f % 100 == 0 => 21,
        f if f % 10 == 0 => 22,
        _ => 23,
    };
    buf[end] = b'Z';
    std::str::from_utf8(&buf[..=end]).ok()
}
/// Parses RFC 3339 or integer milliseconds into a WIT timestamp.
pub fn parse_ts(field: &str, s: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    OffsetDateTime::parse(s, &Rfc3339).map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64).map_err(|_| {
        ApiError::invalid(format!(
            "{field}: {s:?} is not an RFC 3339 timestamp (e.g. 2026-01-31T00:00:00Z) or milliseconds since the epoch"
        ))
    })
}
/// Integers in request bodies: JSON has one number type, and JSON Schema's
/// `integer` is any number without a fraction, so `691.0` is accepted as
/// 691 (clients in languages with only doubles send it), while `691.5` or a
/// value out of range is rejected with the field named by serde.
mod int {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};

    fn integral<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        if let Some(i) = n.as_i64() {
            return Ok(i.into());
        }
        if let Some(u) = n.as_u64() {
            return Ok(u.into());
        }
        // Only where a double holds every integer exactly (|f| <= 2^53): a
        // larger literal such as -9223372036854775809 was rounded on parsing.
        match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => Ok(f as i128),
            _ => Err(D::Error::custom(format!("{n} is not an integer"))),
        }
    }
    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let v = integral(d)?;
        i64::try_from(v).map_err(|_| D::Error::custom(format!("{v} is out of range for a 64-bit integer")))
    }
    pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let v = integral(d)?;
        u32::try_from(v).map_err(|_| D::Error::custom(format!("{v} is out of range 0..=4294967295")))
    }
    pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        match Option::<serde_json::Number>::deserialize(d)? {
            None => Ok(None),
            Some(n) => u32(n).map(Some).map_err(D::Error::custom),
        }
    }
}
/// The schema of a timestamp the API accepts: RFC 3339 (`2026-01-31T00:00:00Z`)
/// or integer milliseconds since the epoch.
pub fn timestamp_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^-?[0-9]{1,15}$")))
        .description(Some("RFC 3339 date-time, or milliseconds since the epoch"))
        .build()
        .into()
}
mod ts {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0; 24];
        match super::rfc3339_ms(*ms, &mut buf) {
            Some(t) => s.serialize_str(t),
            None => s.serialize_str(&ms.to_string()),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_ts("timestamp", &s).map_err(|e| serde::de::Error::custom(e.detail))
    }
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Money {
    /// Amount in minor units (cents).
    #[serde(deserialize_with = "int::i64")]
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}
impl From<wit::Money> for Money {
    fn from(m: wit::Money) -> Self {
        Self { amount_minor: m.amount_minor, currency: m.currency }
    }
}
impl From<Money> for wit::Money {
    fn from(m: Money) -> Self {
        Self { amount_minor: m.amount_minor, currency: m.currency }
    }
}
/// `{"ids": [...]}` for the batch-get routes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdsRequest {
    pub ids: Vec<String>,
}
/// One entry of a batch-get answer, in request order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchItem<T> {
    pub id: String,
    pub found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<T>,
}
/// A batch-get answer: one entry per requested id, same order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetResponse<T> {
    pub items: Vec<BatchItem<T>>,
    pub found: usize,
    pub missing: usize,
}
impl<T> BatchGetResponse<T> {
    /// One entry per id, in order; `None` entries are reported as missing.
    pub fn from_lookups(lookups: impl IntoIterator<Item = (String, Option<T>)>) -> Self {
        let items: Vec<BatchItem<T>> =
            lookups.into_iter().map(|(id, item)| BatchItem { id, found: item.is_some(), item }).collect();
        let found = items.iter().filter(|i| i.found).count();
        Self { missing: items.len() - found, found, items }
    }
}
/// The problem document of one failed item inside a batch answer.
pub fn item_problem(e: wit::ProviderError) -> serde_json::Value {
    ApiError::from(e).body()
}
/// A record id: 1 to 256 characters.
pub struct IdDoc;
impl utoipa::PartialSchema for IdDoc {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(256)).into()
    }
}
impl utoipa::ToSchema for IdDoc {}

#[cfg(test)]
mod tests {
    /// What `time` spells for `ms`, the reference the hand-written
    /// formatter must equal.
    fn by_time(ms: i64) -> String {
        super::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&super::Rfc3339).ok())
            .unwrap_or_else(|| ms.to_string())
    }

    #[test]
    fn timestamps_are_spelt_as_the_time_crate_spells_them() {
        let year = 31_556_952_000_i64;
        let mut cases = vec![
            0,
            1,
            10,
            100,
            120,
            999,
            1_000,
            -1,
            -999,
            -1_000,
            -1_001,
            1_767_225_600_000,
            951_782_400_000,     // 2000-02-29
            -62_167_219_200_000, // 0000-01-01
            -62_167_219_200_001, // before year 0
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            253_402_300_800_000, // 10000-01-01
            i64::MAX,
            i64::MIN,
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly within ±12 000 years, so both sides of 0000 and 9999.
            cases.push((x % (24_000 * year as u64)) as i64 - 12_000 * year);
        }
        for ms in cases {
            assert_eq!(super::format_ts(ms), by_time(ms), "{ms}");
        }
        assert_eq!(super::format_ts(1_767_225_600_120), "2026-01-01T00:00:00.12Z");
    }
}
