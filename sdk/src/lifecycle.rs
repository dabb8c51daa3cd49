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

#[cfg(all(test, feature = "testing", not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::Context;
    use crate::testing::FakeHost;
    use std::cell::Cell;

    thread_local! {
        static BUILT: Cell<u32> = const { Cell::new(0) };
        static SHUT: Cell<u32> = const { Cell::new(0) };
    }

    struct Counted;

    impl Provider for Counted {
        fn new(ctx: &Context) -> Result<Self, ProviderError> {
            let _: u32 = ctx.setting_or("count", 1)?;
            BUILT.with(|b| b.set(b.get() + 1));
            Ok(Counted)
        }
        fn shutdown(&mut self) {
            SHUT.with(|s| s.set(s.get() + 1));
        }
    }

    type E = Exports<Counted>;

    #[test]
    fn init_refuses_a_bad_setting_naming_the_key() {
        let _host = FakeHost::new("t").setting("count", "lots").install();
        match <E as Guest>::init() {
            Err(ProviderError::InvalidInput(m)) => assert!(m.contains("`count`") && m.contains("\"lots\""), "{m}"),
            other => panic!("{other:?}"),
        }
        // Nothing was built, so shutdown has nobody to tell.
        <E as Guest>::shutdown();
        assert_eq!((BUILT.with(Cell::get), SHUT.with(Cell::get)), (0, 0));
    }

    #[test]
    fn init_builds_once_and_shutdown_reaches_the_provider_once() {
        let _host = FakeHost::new("t").setting("count", "3").install();
        <E as Guest>::init().unwrap();
        <E as Guest>::init().unwrap();
        assert_eq!(BUILT.with(Cell::get), 1, "one provider value per instance");
        <E as Guest>::shutdown();
        <E as Guest>::shutdown();
        assert_eq!(SHUT.with(Cell::get), 1, "the value is dropped after its shutdown");
    }
}
