//! The CRM shapes: contacts and activities.

use super::*;

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: String,
    pub customer_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub role: String,
    #[serde(with = "ts")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_at: i64,
}
impl From<wit::Contact> for Contact {
    fn from(c: wit::Contact) -> Self {
        Self {
            id: c.id,
            customer_id: c.customer_id,
            first_name: c.first_name,
            last_name: c.last_name,
            email: c.email,
            phone: c.phone,
            role: c.role,
            modified_at: c.modified_at,
        }
    }
}
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub id: String,
    pub customer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// call, email, meeting, note or order.
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub subject: String,
    #[serde(with = "ts")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: i64,
}
impl From<wit::Activity> for Activity {
    fn from(a: wit::Activity) -> Self {
        use wit::ActivityKind::*;
        Self {
            id: a.id,
            customer_id: a.customer_id,
            contact_id: a.contact_id,
            kind: match a.kind {
                Call => "call",
                Email => "email",
                Meeting => "meeting",
                Note => "note",
                Order => "order",
            },
            subject: a.subject,
            occurred_at: a.occurred_at,
        }
    }
}
/// `GET …/crm/customers/{id}/activities` query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivitiesQuery {
    /// Most recent activities to return (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}
/// `POST …/crm/activities/batch-get` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivitiesBatchRequest {
    /// Up to 1000 customer ids, each 1–256 characters.
    #[schema(value_type = Vec<IdDoc>, max_items = 1000)]
    pub customer_ids: Vec<String>,
    /// Most recent activities per customer (default 50).
    #[serde(default, deserialize_with = "int::opt_u32")]
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}
pub fn activity_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=1000).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(format!("limit must be 1..=1000, got {n}"))),
    }
}
