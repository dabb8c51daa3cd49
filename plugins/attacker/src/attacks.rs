//! The attack primitives: oversized strings, log abuse, host-call burning,
//! aliased string lowering and the start-function hook.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::b2connect::provider::log::{Level, log};
use crate::{Mode, settings};

/// `mib` MiB in bytes. A size that wasm32 cannot address saturates, and the
/// allocation then fails, which aborts (traps) the guest: also an attack.
pub fn mib(mib: u64) -> usize {
    usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
}

/// `len` bytes of `pattern` repeated (the pattern must be ASCII, so that any
/// cut is valid UTF-8). Allocated once with exact capacity, so lowering the
/// string into the canonical ABI does not copy it again.
pub fn repeat_ascii(pattern: &[u8], len: usize) -> String {
    debug_assert!(pattern.is_ascii());
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        let take = pattern.len().min(len - bytes.len());
        bytes.extend_from_slice(&pattern[..take]);
    }
    String::from_utf8(bytes).expect("ASCII pattern")
}

/// `huge-strings`: `size-mib` MiB of U+0001, which JSON must escape as
/// `\u0001` (6 bytes per byte).
pub fn control_string() -> String {
    repeat_ascii(&[0x01], mib(settings().size_mib))
}

/// `huge-error`: `size-mib` MiB of control characters, newlines, NULs, ANSI
/// escapes and JSON-special characters.
pub fn error_message() -> String {
    repeat_ascii(b"\x01\x02\x1b[31mprovider failure\r\n\x00\x7f\t\"\\\x1b[2J\n", mib(settings().size_mib))
}

/// `over-limit`: a continuation token of `token-mib` MiB.
pub fn huge_token() -> String {
    repeat_ascii(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", mib(settings().token_mib))
}

/// The per-operation prologue of the modes that attack every operation
/// (`log-flood`, `log-forge`, `random-burn`); `op` names the operation.
pub fn prologue(op: &str) {
    match settings().mode {
        Mode::LogFlood => log_flood(op),
        Mode::LogForge => log_forge(op),
        Mode::RandomBurn => random_burn(settings().burn_ms),
        _ => {}
    }
}

/// `log-flood`: `count` log records of 4096 bytes each. The message is built
/// once; every call lowers the same borrowed buffer, so the guest does almost
/// no work per record while the host must handle 4 KiB each time.
fn log_flood(op: &str) {
    let header = format!("log-flood {op}: ");
    let mut message = header.into_bytes();
    message.resize(4096, b'L');
    let message = String::from_utf8(message).expect("ASCII");
    for _ in 0..settings().count {
        log(Level::Error, &message);
    }
}

/// `log-forge`: records that try to forge host log lines, rewrite the
/// terminal and smuggle fields.
fn log_forge(op: &str) {
    let forged = [
        (
            Level::Info,
            format!(
                "{op} ok\n2026-11-28T05:00:00.000000Z ERROR b2c_host: admin token is b2cadm_forged"
            ),
        ),
        (
            Level::Warn,
            format!(
                "{op} retry\r2026-11-28T05:00:00.000000Z  INFO b2c_host: tenant=other-tenant plugin=mock-erp admin login succeeded token=b2cadm_forged"
            ),
        ),
        (
            Level::Error,
            "\x1b[2J\x1b[H\x1b[31mCRITICAL b2c_host: host compromised, rotate b2cadm_forged\x1b[0m"
                .to_string(),
        ),
        (
            Level::Info,
            "\n{\"timestamp\":\"2026-11-28T05:00:00.000000Z\",\"level\":\"ERROR\",\"target\":\"b2c_host\",\"fields\":{\"message\":\"admin token is b2cadm_forged\",\"tenant\":\"victim\"}}\n"
                .to_string(),
        ),
        (
            Level::Info,
            "done\" tenant=victim-tenant plugin=trusted-plugin level=ERROR msg=\"forged".to_string(),
        ),
        (
            Level::Warn,
            "\x1b]0;pwned\x07\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07 \u{202e}dekrof\u{202c} \0nul\x08\x08\x08\x7f"
                .to_string(),
        ),
        (
            Level::Error,
            "\r\n\r\n2026-11-28T05:00:00.000000Z ERROR b2c_host::registry: plugin hostile revoked by admin\n\x1b[1A\x1b[2K"
                .to_string(),
        ),
    ];
    for (level, message) in &forged {
        log(*level, message);
    }
}

/// `random-burn`: spend `ms` milliseconds of wall time inside host calls:
/// each iteration asks the host for 1 MiB of random bytes and reads the
/// monotonic clock, with no guest computation worth the name in between.
pub fn random_burn(ms: u64) {
    use wasip2::clocks::monotonic_clock::now;
    use wasip2::random::random::get_random_bytes;
    let budget = ms.saturating_mul(1_000_000);
    let start = now();
    while now().saturating_sub(start) < budget {
        black_box(get_random_bytes(1 << 20));
    }
}

// ---------------------------------------------------------------------------
// alias-strings
// ---------------------------------------------------------------------------

/// Bounds of the leaked buffer that aliased strings point into; 0..0 until
/// it exists. The global allocator never frees memory inside it.
static ALIAS_START: AtomicUsize = AtomicUsize::new(0);
static ALIAS_END: AtomicUsize = AtomicUsize::new(0);
static ALIAS: OnceLock<(usize, usize)> = OnceLock::new();

fn in_alias(ptr: *mut u8) -> bool {
    let p = ptr as usize;
    p >= ALIAS_START.load(Ordering::Relaxed) && p < ALIAS_END.load(Ordering::Relaxed)
}

/// A `String` that does NOT own its bytes: it points at the one leaked
/// buffer of `size-mib` MiB that every aliased string shares.
///
/// wit-bindgen lowers a returned string as `into_bytes().into_boxed_slice()`
/// (a no-op here: length == capacity), writes (ptr, len) into the return
/// area and forgets it; the canonical-ABI post-return then calls
/// `cabi_dealloc(ptr, len, 1)` for every string, i.e. many times on the same
/// pointer. [`Guarded`] ignores frees inside the buffer, so no double free
/// happens and the attack can be repeated on every call.
pub fn alias_string() -> String {
    let &(ptr, len) = ALIAS.get_or_init(|| {
        let len = mib(settings().size_mib).max(1);
        let buffer = repeat_ascii(b"alias", len).into_bytes().into_boxed_slice();
        let ptr = Box::leak(buffer).as_mut_ptr() as usize;
        ALIAS_START.store(ptr, Ordering::Relaxed);
        ALIAS_END.store(ptr + len, Ordering::Relaxed);
        (ptr, len)
    });
    // SAFETY: the buffer came from the global allocator with exactly this
    // layout (len bytes, align 1) and holds ASCII. It is leaked, and Guarded
    // never frees or reallocates memory inside it, so the many Strings that
    // share it are never freed, moved or written (they are only lowered).
    unsafe { String::from_raw_parts(ptr as *mut u8, len, len) }
}

/// The global allocator: the system allocator, except that it never frees
/// (or reallocates in place) memory inside the aliased buffer.
pub struct Guarded;

// SAFETY: every call forwards to System, except frees of the alias buffer,
// which are dropped (the memory stays leaked) and reallocations of it, which
// copy into a fresh allocation.
unsafe impl GlobalAlloc for Guarded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !in_alias(ptr) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !in_alias(ptr) {
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        let fresh = unsafe { System.alloc(new_layout) };
        if !fresh.is_null() {
            unsafe { std::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size)) };
        }
        fresh
    }
}

// ---------------------------------------------------------------------------
// start-sleep / start-loop
// ---------------------------------------------------------------------------

/// A static constructor. wasm-ld collects `.init_array` entries into
/// `__wasm_call_ctors`.
///
/// Left alone, the wasm32-wasip2 toolchain runs `__wasm_call_ctors` only
/// lazily, from wit-bindgen's `run_ctors_once` at the first export call: a
/// Rust cdylib links no reactor `crt1` and exports no `_initialize`. So the
/// attacker exports `_initialize` itself (below): wit-component (inside
/// `wasm-component-ld`) turns an exported `_initialize` into the `start`
/// function of a shim core instance that is instantiated last, after every
/// import is wired up, i.e. this runs during component instantiation and may
/// call imports (`config`, `log`, WASI).
#[used]
#[unsafe(link_section = ".init_array")]
static START_HOOK: extern "C" fn() = start_hook;

/// The WASIp1-style reactor entry point, run by the component's start shim
/// at instantiation; it runs the static constructors, i.e. [`start_hook`].
#[unsafe(no_mangle)]
pub extern "C" fn _initialize() {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    // SAFETY: wasm-ld synthesises `__wasm_call_ctors`; running the
    // constructors again later (run_ctors_once) is harmless, see STARTED.
    unsafe { __wasm_call_ctors() }
}

/// `__wasm_call_ctors` may run twice (once from `_initialize`, once from
/// wit-bindgen's `run_ctors_once` in the first export); act once.
static STARTED: AtomicBool = AtomicBool::new(false);

extern "C" fn start_hook() {
    if STARTED.swap(true, Ordering::Relaxed) {
        return;
    }
    // Reads `attack` (and the knobs) through the `config` import.
    let settings = settings();
    match settings.mode {
        Mode::StartSleep => {
            log(Level::Info, &format!("start-sleep: sleeping {} ms in start", settings.start_ms));
            // One host call: wasi:io/poll on a monotonic-clock pollable.
            wasip2::clocks::monotonic_clock::subscribe_duration(settings.start_ms.saturating_mul(1_000_000)).block();
        }
        Mode::StartLoop => {
            log(Level::Info, "start-loop: spinning forever in start");
            // Pure guest code, no host calls; black_box keeps the loop from
            // being folded away.
            let mut n = 0u64;
            loop {
                n = black_box(n.wrapping_add(1));
            }
        }
        _ => {}
    }
}
