//! `Cursor<T>`: what a provider's `stream-*` operation returns, and the
//! contract's cursor resources behind it. Adapters build one from an
//! `Iterator` or from a back end that pages with continuation tokens; the
//! cursor hands out at most `max` records per `next` whatever its source
//! returns (the excess waits for the next call), and once it has ended or
//! failed it answers an empty list, so the stream ends.

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::bindings::b2connect::provider::types::ProviderError;

/// Where a cursor's records come from: `next(max)` returns the next
/// records (ideally at most `max`), an empty list at the end.
pub trait Source<T>: 'static {
    fn next(&mut self, max: usize) -> Result<Vec<T>, ProviderError>;
}

/// Consecutive empty pages that carry a continuation token before the
/// paged adapter gives up: a back end that never ends its token chain is a
/// bug, and a stream must end.
pub const MAX_EMPTY_PAGES: usize = 64;

/// A pull cursor over `T`.
pub struct Cursor<T: 'static> {
    inner: RefCell<State<T>>,
}

struct State<T> {
    source: Option<Box<dyn Source<T>>>,
    pending: VecDeque<T>,
}

impl<T: 'static> Cursor<T> {
    /// A cursor over any `Source`.
    pub fn new(source: impl Source<T>) -> Self {
        Self { inner: RefCell::new(State { source: Some(Box::new(source)), pending: VecDeque::new() }) }
    }

    /// A cursor over the items of an iterator, pulled lazily as the host
    /// asks (so not `FromIterator`, which would collect them first).
    #[allow(clippy::should_implement_trait)]
    pub fn from_iter<I>(items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
    {
        Self::new(IterSource(items.into_iter()))
    }

    /// A cursor over an iterator of results: the first error ends the
    /// stream with that error (records before it are handed out first).
    pub fn from_results<I>(items: I) -> Self
    where
        I: IntoIterator<Item = Result<T, ProviderError>>,
        I::IntoIter: 'static,
    {
        Self::new(ResultSource { items: items.into_iter(), failed: None })
    }

    /// A cursor over a back end that answers pages: `fetch(token)` returns
    /// one page and the token of the next one (`None` on the last page),
    /// called with `None` first. An empty page with a token is skipped; a
    /// token repeated twice in a row, or more than [`MAX_EMPTY_PAGES`]
    /// empty pages in a row, ends the stream with `internal`.
    pub fn paged<F>(fetch: F) -> Self
    where
        F: FnMut(Option<String>) -> Result<(Vec<T>, Option<String>), ProviderError> + 'static,
    {
        Self::new(Paged { fetch, token: None, started: false, done: false })
    }

    /// An empty stream.
    pub fn empty() -> Self {
        Self::from_iter(Vec::new())
    }

    /// The next at most `max` records; empty at the end, and ever after an
    /// end or an error. `max` 0 is read as 1 (an empty answer would end the
    /// stream).
    pub fn next_batch(&self, max: u32) -> Result<Vec<T>, ProviderError> {
        let max = (max as usize).max(1);
        let mut state = self.inner.borrow_mut();
        if state.pending.is_empty() {
            let Some(source) = state.source.as_mut() else { return Ok(Vec::new()) };
            match source.next(max) {
                Ok(batch) if batch.is_empty() => {
                    state.source = None;
                    return Ok(batch);
                }
                Ok(batch) if batch.len() <= max => return Ok(batch),
                Ok(batch) => state.pending.extend(batch),
                Err(e) => {
                    state.source = None;
                    return Err(e);
                }
            }
        }
        let n = state.pending.len().min(max);
        Ok(state.pending.drain(..n).collect())
    }
}

struct IterSource<I>(I);

impl<T, I: Iterator<Item = T> + 'static> Source<T> for IterSource<I> {
    fn next(&mut self, max: usize) -> Result<Vec<T>, ProviderError> {
        Ok(self.0.by_ref().take(max).collect())
    }
}

struct ResultSource<I> {
    items: I,
    /// An error met after some records: the answer to the next call, so
    /// the records before it are not lost.
    failed: Option<ProviderError>,
}

impl<T, I: Iterator<Item = Result<T, ProviderError>> + 'static> Source<T> for ResultSource<I> {
    fn next(&mut self, max: usize) -> Result<Vec<T>, ProviderError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let mut out = Vec::new();
        while out.len() < max {
            match self.items.next() {
                None => break,
                Some(Ok(v)) => out.push(v),
                Some(Err(e)) if out.is_empty() => return Err(e),
                Some(Err(e)) => {
                    self.failed = Some(e);
                    break;
                }
            }
        }
        Ok(out)
    }
}

struct Paged<F> {
    fetch: F,
    token: Option<String>,
    started: bool,
    done: bool,
}

impl<T, F> Source<T> for Paged<F>
where
    F: FnMut(Option<String>) -> Result<(Vec<T>, Option<String>), ProviderError> + 'static,
{
    fn next(&mut self, _max: usize) -> Result<Vec<T>, ProviderError> {
        let mut empty = 0;
        loop {
            if self.done || (self.started && self.token.is_none()) {
                return Ok(Vec::new());
            }
            let asked = self.token.take();
            self.started = true;
            let (page, next) = (self.fetch)(asked.clone())?;
            if next.is_some() && next == asked {
                self.done = true;
                return Err(ProviderError::internal(format!(
                    "the back end answered continuation token {asked:?} with itself; the stream would never end"
                )));
            }
            self.token = next;
            if !page.is_empty() {
                return Ok(page);
            }
            empty += 1;
            if empty > MAX_EMPTY_PAGES && self.token.is_some() {
                self.done = true;
                return Err(ProviderError::internal(format!(
                    "the back end answered {empty} empty pages in a row, each with a continuation token"
                )));
            }
        }
    }
}
