//! The guest's global allocator (feature `allocator`): blocks of up to
//! 256 bytes from one free list per 8-byte size class, everything else
//! from talc.
//!
//! Why: every call lowers its arguments into the guest (one allocation per
//! string) and post-return frees every string of the answer, and building
//! a record with `format!` grows strings by `realloc`. A `get-products` ×
//! 100 of mock-erp allocates and frees about 2 000 blocks, nearly all under
//! 128 bytes. A size class answers those with a pop and a push (no search,
//! no coalescing), and a `realloc` that stays in its class with nothing at
//! all; talc (the SDK's allocator alone before) keeps the large and
//! over-aligned blocks and supplies the 64 KiB spans the classes carve.
//! `bench/RESULTS.md` has the A/B.
//!
//! The trade-off: a freed small block stays on its class's list (it is not
//! coalesced, nor given back to talc), so memory that once held many
//! 16-byte blocks serves later 16-byte blocks only. A plugin's memory is
//! bounded by its instance limit either way, and an instance that reaches
//! it traps and is replaced by a fresh one.
//!
//! Single-threaded by construction: it is `Sync` (can be the global
//! allocator) only on wasm without the `atomics` feature (one thread per
//! instance), as talc's own `TalcSyncCell` assumes. Natively it is built for
//! its unit tests only, over the system allocator.

#![allow(unsafe_code)] // an allocator is unsafe by nature; each block says why it holds

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{self, null_mut};

/// Size-class step, and the alignment every class block has.
const GRAIN: usize = 8;
/// Classes 8, 16, ..., 256 bytes.
const CLASSES: usize = 32;
const MAX_SMALL: usize = GRAIN * CLASSES;
/// What the classes take from talc at a time.
const SPAN: usize = 64 * 1024;

/// A free block's first word: the next free block of its class.
struct Free {
    next: *mut Free,
}

struct Classes {
    free: [*mut Free; CLASSES],
    /// The unused rest of the newest span: `[bump, end)`.
    bump: *mut u8,
    end: *mut u8,
}

/// Size classes in front of `L`, which serves the rest: talc on wasm (the
/// SDK's `#[global_allocator]`), the system allocator in the unit tests.
pub struct Allocator<L> {
    classes: UnsafeCell<Classes>,
    large: L,
}

// SAFETY: wasm without the atomics feature has one thread, so no two
// threads ever reach `classes`.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<L: Sync> Sync for Allocator<L> {}

impl<L> Allocator<L> {
    pub const fn new(large: L) -> Self {
        Self {
            classes: UnsafeCell::new(Classes { free: [null_mut(); CLASSES], bump: null_mut(), end: null_mut() }),
            large,
        }
    }
}

/// The class of a block of this layout, if it is small enough for one.
fn class(layout: Layout) -> Option<usize> {
    (layout.size() <= MAX_SMALL && layout.align() <= GRAIN).then(|| layout.size().saturating_sub(1) / GRAIN)
}

// SAFETY (for the whole impl): class blocks are carved from spans that talc
// handed out with GRAIN alignment and are never given back, so a pointer on
// a free list is valid, GRAIN-aligned and at least GRAIN bytes long (room
// for `Free`); a block is on at most one list, because the caller frees it
// once; a layout's class is computed the same way at alloc, realloc and
// dealloc, so a block goes back to the list it came from.
unsafe impl<L: GlobalAlloc> GlobalAlloc for Allocator<L> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(layout) else {
            return unsafe { self.large.alloc(layout) };
        };
        let s = unsafe { &mut *self.classes.get() };
        let head = s.free[c];
        if !head.is_null() {
            s.free[c] = unsafe { (*head).next };
            return head.cast();
        }
        let size = (c + 1) * GRAIN;
        if (s.end as usize) - (s.bump as usize) < size {
            // The old span's rest (under 256 bytes) is left unused.
            let span = unsafe { self.large.alloc(Layout::from_size_align_unchecked(SPAN, GRAIN)) };
            if span.is_null() {
                return null_mut();
            }
            s.bump = span;
            s.end = unsafe { span.add(SPAN) };
        }
        let block = s.bump;
        s.bump = unsafe { block.add(size) };
        block
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match class(layout) {
            None => unsafe { self.large.dealloc(ptr, layout) },
            Some(c) => {
                let s = unsafe { &mut *self.classes.get() };
                let block = ptr.cast::<Free>();
                unsafe { block.write(Free { next: s.free[c] }) };
                s.free[c] = block;
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees new_size, rounded up to the
        // alignment, does not overflow isize.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(layout), class(new)) {
            (Some(a), Some(b)) if a == b => ptr,
            (None, None) => unsafe { self.large.realloc(ptr, layout, new_size) },
            _ => {
                let moved = unsafe { self.alloc(new) };
                if !moved.is_null() {
                    unsafe {
                        ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                moved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    /// A xorshift stream: the same "random" pattern on every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    struct Block {
        ptr: *mut u8,
        layout: Layout,
        fill: u8,
    }

    fn fill(b: &Block) {
        unsafe { ptr::write_bytes(b.ptr, b.fill, b.layout.size()) };
    }

    fn intact(b: &Block) -> bool {
        (0..b.layout.size()).all(|i| unsafe { *b.ptr.add(i) } == b.fill)
    }

    /// The address ranges of the live blocks: a new one must not overlap
    /// any (the fill patterns repeat every 256 blocks, so they alone could
    /// miss an overlap of two blocks with the same pattern).
    #[derive(Default)]
    struct Ranges(std::collections::BTreeMap<usize, usize>);
    impl Ranges {
        fn add(&mut self, b: &Block) {
            let (start, end) = (b.ptr as usize, b.ptr as usize + b.layout.size());
            if let Some((_, &before_end)) = self.0.range(..=start).next_back() {
                assert!(before_end <= start, "{:?} at {start:#x} overlaps the block before it", b.layout);
            }
            if let Some((&after, _)) = self.0.range(start..).next() {
                assert!(end <= after, "{:?} at {start:#x} overlaps the block after it", b.layout);
            }
            self.0.insert(start, end);
        }
        fn remove(&mut self, b: &Block) {
            assert!(self.0.remove(&(b.ptr as usize)).is_some());
        }
    }

    #[test]
    fn live_blocks_never_overlap_through_alloc_realloc_and_free() {
        let a = Allocator::new(System);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut live: Vec<Block> = Vec::new();
        let mut ranges = Ranges::default();
        for step in 0..20_000u32 {
            match rng.next() % 4 {
                // Sizes across every class, past the largest, and a few
                // over-aligned blocks (which talc's stand-in serves).
                0 | 1 => {
                    let size = 1 + (rng.next() % 400) as usize;
                    let align = if rng.next().is_multiple_of(10) { 16 } else { 1 << (rng.next() % 4) };
                    let layout = Layout::from_size_align(size, align).unwrap();
                    let ptr = unsafe { a.alloc(layout) };
                    assert!(!ptr.is_null());
                    assert_eq!(ptr as usize % align, 0, "step {step}: {layout:?} misaligned");
                    let b = Block { ptr, layout, fill: step as u8 };
                    ranges.add(&b);
                    fill(&b);
                    live.push(b);
                }
                2 if !live.is_empty() => {
                    let b = live.swap_remove((rng.next() % live.len() as u64) as usize);
                    assert!(intact(&b), "step {step}: a live block of {:?} was overwritten", b.layout);
                    ranges.remove(&b);
                    unsafe { a.dealloc(b.ptr, b.layout) };
                }
                3 if !live.is_empty() => {
                    let i = (rng.next() % live.len() as u64) as usize;
                    let old = &live[i];
                    assert!(intact(old), "step {step}: a live block of {:?} was overwritten", old.layout);
                    ranges.remove(old);
                    let new_size = 1 + (rng.next() % 400) as usize;
                    let ptr = unsafe { a.realloc(old.ptr, old.layout, new_size) };
                    assert!(!ptr.is_null());
                    let kept = old.layout.size().min(new_size);
                    assert!((0..kept).all(|k| unsafe { *ptr.add(k) } == old.fill), "step {step}: realloc lost bytes");
                    let b = Block {
                        ptr,
                        layout: Layout::from_size_align(new_size, old.layout.align()).unwrap(),
                        fill: old.fill,
                    };
                    ranges.add(&b);
                    fill(&b);
                    live[i] = b;
                }
                _ => {}
            }
        }
        assert!(live.iter().all(intact), "a live block was overwritten");
        for b in live {
            unsafe { a.dealloc(b.ptr, b.layout) };
        }
    }

    #[test]
    fn a_freed_small_block_serves_the_next_request_of_its_class() {
        let a = Allocator::new(System);
        let l24 = Layout::from_size_align(24, 8).unwrap();
        let p = unsafe { a.alloc(l24) };
        unsafe { a.dealloc(p, l24) };
        // 17..=24 bytes share the class: the block comes back.
        assert_eq!(unsafe { a.alloc(Layout::from_size_align(17, 1).unwrap()) }, p);
        // Another class does not take it.
        let q = unsafe { a.alloc(Layout::from_size_align(32, 8).unwrap()) };
        assert_ne!(q, p);
    }

    #[test]
    fn realloc_within_a_class_keeps_the_block_and_across_classes_moves_it() {
        let a = Allocator::new(System);
        let l = Layout::from_size_align(9, 1).unwrap();
        let p = unsafe { a.alloc(l) };
        unsafe { ptr::copy_nonoverlapping(b"abcdefghi".as_ptr(), p, 9) };
        assert_eq!(unsafe { a.realloc(p, l, 16) }, p, "9 and 16 bytes share a class");
        let l16 = Layout::from_size_align(16, 1).unwrap();
        let big = unsafe { a.realloc(p, l16, 1000) };
        assert_ne!(big, p);
        assert_eq!(unsafe { std::slice::from_raw_parts(big, 9) }, b"abcdefghi");
        // The small block went back to its class when it moved.
        assert_eq!(unsafe { a.alloc(l16) }, p);
        unsafe { a.dealloc(big, Layout::from_size_align(1000, 1).unwrap()) };
    }
}
