//! The contract's `lifecycle` interface (1.1), answered by the SDK for
//! every provider: `init` builds the provider value with
//! `Provider::new(&Context)`, so a bad setting (the settings rule's
//! `invalid-input` naming the key) refuses the bind instead of failing
//! every call; `shutdown` hands the value to `Provider::shutdown` and
//! drops it.

use crate::bindings::exports::b2connect::provider::lifecycle::Guest;
use crate::provider::{self, Exports, Provider};
use crate::types::ProviderError;

impl<P: Provider> Guest for Exports<P> {
    fn init() -> Result<(), ProviderError> {
        provider::with_instance(|_: &mut P| Ok(()))
    }

    fn shutdown() {
        provider::shut_down::<P>();
    }
}
