//! `Provider`: how an instance comes to be and ends. The host creates one
//! component instance per tenant and provider kind and calls it one call
//! at a time; the SDK creates the provider value in `lifecycle.init` (or
//! on the first call, should a host not call init) with
//! `Provider::new(&Context)`, keeps it for the instance's life, and hands
//! it to `Provider::shutdown` when the host ends the instance on purpose
//! (a rebind, the host's exit, the end of a bind check).
//!
//! What a trap means: a panic (or any trap) in a call ends the instance;
//! the host discards it with all its memory, answers that call with a 502
//! and starts a fresh instance, and so a fresh `new`, on the next call.
//! State that must survive lives behind the socket, not in memory.

use std::any::Any;
use std::cell::RefCell;

use crate::bindings::b2connect::provider::types::ProviderError;
use crate::config::Context;

/// A provider value: built once per instance from the tenant's context.
pub trait Provider: Sized + 'static {
    /// Builds the provider for the tenant `ctx` names. An error is the
    /// answer to the call that triggered it, and `new` runs again on the
    /// next call (a bad setting is reported on every call until fixed).
    fn new(ctx: &Context) -> Result<Self, ProviderError>;

    /// The instance is ending on purpose: end back-end sessions (say
    /// goodbye on open connections). Not called after a trap or timeout,
    /// nor when the host process dies. The host waits at most 5 s.
    fn shutdown(&mut self) {}
}

thread_local! {
    static INSTANCE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `f` with this instance's provider, building it first if needed.
pub(crate) fn with_instance<P: Provider, R>(
    f: impl FnOnce(&mut P) -> Result<R, ProviderError>,
) -> Result<R, ProviderError> {
    INSTANCE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|b| !b.is::<P>()) {
            *slot = Some(Box::new(P::new(&Context::current())?));
        }
        let provider = slot.as_mut().and_then(|b| b.downcast_mut::<P>()).expect("provider just stored");
        f(provider)
    })
}

/// `lifecycle.shutdown`: the provider value, if one was built, hears
/// `Provider::shutdown` and is dropped.
pub(crate) fn shut_down<P: Provider>() {
    let taken = INSTANCE.with(|cell| cell.borrow_mut().take());
    if let Some(mut p) = taken.and_then(|b| b.downcast::<P>().ok()) {
        p.shutdown();
    }
}

/// Forgets this thread's provider value, so the next call builds a new
/// one (the fake host's reset between tests).
#[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
pub(crate) fn reset() {
    INSTANCE.with(|cell| *cell.borrow_mut() = None);
}

/// The contract says a batch answer has one entry per id: a provider whose
/// own `get_*s` breaks that gets `internal` naming the operation rather
/// than a contract breach in the host.
pub(crate) fn same_len<T>(
    op: &str,
    asked: usize,
    answer: Result<Vec<T>, ProviderError>,
) -> Result<Vec<T>, ProviderError> {
    let list = answer?;
    if list.len() != asked {
        return Err(ProviderError::internal(format!("{op} answered {} entries for {asked} ids", list.len())));
    }
    Ok(list)
}

/// The type the contract's exports are implemented on: `export_provider!`
/// exports `Exports<YourProvider>`.
pub struct Exports<P>(std::marker::PhantomData<fn() -> P>);
