//! The contract's `crm-provider` interface as a trait; batch operations
//! default to the single ones, as in `erp_provider`.

use crate::batch;
use crate::bindings::b2connect::provider::types::{Activity, Contact, ProviderError};

type Result<T> = std::result::Result<T, ProviderError>;

/// A CRM provider (the seed's `ICrmProvider`).
pub trait CrmProvider: crate::Provider {
    /// One contact by id; unknown is `not-found`.
    fn get_contact(&mut self, id: String) -> Result<Contact> {
        let _ = id;
        Err(ProviderError::unsupported("get-contact"))
    }

    /// Several contacts, same length and order as `ids`, unknown `None`.
    fn get_contacts(&mut self, ids: Vec<String>) -> Result<Vec<Option<Contact>>> {
        batch::get_many(ids, |id| self.get_contact(id))
    }

    /// A customer's activities, newest first. The SDK cuts the answer to
    /// `limit`; an unknown customer is `not-found`.
    fn get_activities(&mut self, customer_id: String, limit: u32) -> Result<Vec<Activity>> {
        let _ = (customer_id, limit);
        Err(ProviderError::unsupported("get-activities"))
    }

    /// Activities of several customers, one list per id in order, unknown
    /// customers `None`.
    fn get_activities_batch(&mut self, customer_ids: Vec<String>, limit: u32) -> Result<Vec<Option<Vec<Activity>>>> {
        batch::get_many(customer_ids, |id| self.get_activities(id, limit))
    }
}

macro_rules! impl_crm {
    ($($world:tt)*) => {
        const _: () = {
            use $($world)*::exports::b2connect::provider::crm_provider as crm;
            use crate::{CrmProvider, Exports, provider::{same_len, with_instance as with}};
            use crate::types::*;
            use std::result::Result;

            impl<P: CrmProvider> crm::Guest for Exports<P> {
                fn get_contact(id: String) -> Result<Contact, ProviderError> {
                    with(|p: &mut P| p.get_contact(id))
                }
                fn get_contacts(ids: Vec<String>) -> Result<Vec<Option<Contact>>, ProviderError> {
                    let n = ids.len();
                    same_len("get-contacts", n, with(|p: &mut P| p.get_contacts(ids)))
                }
                fn get_activities(customer_id: String, limit: u32) -> Result<Vec<Activity>, ProviderError> {
                    let mut list = with(|p: &mut P| p.get_activities(customer_id, limit))?;
                    list.truncate(limit as usize);
                    Ok(list)
                }
                fn get_activities_batch(
                    customer_ids: Vec<String>,
                    limit: u32,
                ) -> Result<Vec<Option<Vec<Activity>>>, ProviderError> {
                    let n = customer_ids.len();
                    let mut lists =
                        same_len("get-activities-batch", n, with(|p: &mut P| p.get_activities_batch(customer_ids, limit)))?;
                    for list in lists.iter_mut().flatten() {
                        list.truncate(limit as usize);
                    }
                    Ok(lists)
                }
            }
        };
    };
}

impl_crm!(crate::bindings);
