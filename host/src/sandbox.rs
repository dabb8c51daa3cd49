//! The compile sandbox: an upload's first compile runs in a child process
//! (this same binary, `compile-check`) whose address space is capped with
//! `RLIMIT_AS` and which is killed at the compile deadline. Only an upload
//! that compiles within both limits there is compiled in the host, so no
//! upload can make the host itself run out of memory while compiling.
//! Registry artifacts (already accepted) compile in-process.
//!
//! The sandbox's verdict holds for the host only if both compile alike, so
//! this module owns the compiler settings the engine starts from
//! ([`compiler_config`], [`code_config`]); it knows nothing of the engine
//! itself. Compiling alike also lets the host *use* the child's result: the
//! child serializes the compiled component into the compile cache, where
//! the engine finds it as if it had compiled it itself, so a publish
//! compiles once, in the child, under the memory limit.

use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::Config;

/// What decides the machine code: shared by the host's engine and the
/// compile sandbox, so both compile the same way.
pub fn compiler_config() -> Config {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        // Guard pages are cheap address space; a small guard keeps a
        // thousand reservations well inside the 47-bit address space.
        .memory_guard_size(64 * 1024 * 1024)
        .max_wasm_stack(1024 * 1024)
        .async_stack_size(2 * 1024 * 1024);
    config
}

/// What else decides the machine code: a host under an address-space
/// limit reserves only `max_memory_bytes` per linear memory (explicit
/// bounds checks replace the guard region). Both sides apply it, so the
/// child's compiled code is the code the host would compile.
pub fn code_config(lean_memory_bytes: Option<u64>) -> Config {
    let mut config = compiler_config();
    if let Some(bytes) = lean_memory_bytes {
        config.memory_reservation(bytes).memory_reservation_for_growth(0).memory_guard_size(0);
    }
    config
}

/// Why an upload did not pass the sandbox (the engine reports each as its
/// own compile error).
#[derive(Debug)]
pub enum SandboxError {
    /// The upload does not compile, or the sandbox could not run it.
    Compile(String),
    /// The compile did not finish within this time.
    Timeout(Duration),
    /// The compile ran out of its address space of `limit_mib`.
    Memory { limit_mib: u64, detail: String },
}

/// How to start the child: the executable, the arguments that lead to the
/// `b2c-host` command line (empty for `b2c-host` itself), the limit.
#[derive(Clone, Debug)]
pub struct CompileSandbox {
    pub exe: PathBuf,
    pub prefix: Vec<String>,
    pub memory_mib: u64,
    /// Where the upload is written for the child (the compile-cache dir).
    pub scratch: PathBuf,
    /// The engine's lean address-space setting (see [`code_config`]).
    pub lean_memory_bytes: Option<u64>,
}

impl CompileSandbox {
    /// Compiles `bytes` in a child within `memory_mib` and `timeout`; on
    /// success the child has written the compiled component to `out` (temp
    /// file + rename), when given.
    pub async fn check(&self, bytes: &[u8], timeout: Duration, out: Option<&Path>) -> Result<(), SandboxError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let path =
            self.scratch.join(format!(".upload-{}-{}.wasm", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        tokio::fs::write(&path, bytes).await.map_err(|e| SandboxError::Compile(format!("staging the upload: {e}")))?;
        let result = self.run(&path, timeout, out).await;
        let _ = tokio::fs::remove_file(&path).await;
        result
    }

    async fn run(&self, path: &Path, timeout: Duration, out: Option<&Path>) -> Result<(), SandboxError> {
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.args(&self.prefix).arg("compile-check").arg("--memory-mib").arg(self.memory_mib.to_string());
        if let Some(out) = out {
            cmd.arg("--out").arg(out);
        }
        if let Some(bytes) = self.lean_memory_bytes {
            cmd.arg("--lean-memory-bytes").arg(bytes.to_string());
        }
        let child = cmd
            .arg(path)
            // One malloc arena per compile thread at most (glibc reserves
            // 64 MiB of address space for each arena it creates).
            .env("MALLOC_ARENA_MAX", COMPILE_THREADS.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            // Dropped at the deadline: the child is killed, not left running.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SandboxError::Compile(format!("starting the compile sandbox {}: {e}", self.exe.display())))?;
        let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Err(_) => return Err(SandboxError::Timeout(timeout)),
            Ok(Err(e)) => return Err(SandboxError::Compile(format!("the compile sandbox failed: {e}"))),
            Ok(Ok(out)) => out,
        };
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The child's own words, without Rust's "note: run with RUST_BACKTRACE" hint.
        let last = stderr
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("note:"))
            .unwrap_or("the child ended without a message");
        match out.status.code() {
            Some(REJECTED) => return Err(SandboxError::Compile(last.to_string())),
            Some(CANNOT_RUN) => {
                return Err(SandboxError::Compile(format!("the compile sandbox could not run: {last}")));
            }
            _ => {}
        }
        // Anything else (an abort on a refused allocation, a signal) is the
        // memory limit at work.
        Err(SandboxError::Memory { limit_mib: self.memory_mib, detail: last.to_string() })
    }
}

/// Exit code of a compile that failed on its own (an invalid component).
const REJECTED: i32 = 3;
/// Exit code of a child that could not set itself up.
const CANNOT_RUN: i32 = 2;

/// Threads the sandboxed compile uses at most.
pub const COMPILE_THREADS: usize = 4;

/// The child: `b2c-host compile-check --memory-mib N [--out CWASM]
/// [--lean-memory-bytes B] FILE`. Returns the process exit code: 0
/// compiled (and written to `out`), 3 rejected, 2 could not run.
pub fn child_main(file: &Path, memory_mib: u64, out: Option<&Path>, lean_memory_bytes: Option<u64>) -> i32 {
    // The child must not outlive the host: a host killed mid-publish and
    // restarted sweeps its compile cache, and a surviving child would then
    // write a file no version references. The kernel kills the child with
    // its parent; the parent check below covers a parent that died before
    // this line ran.
    let parent = std::os::unix::process::parent_id();
    if let Err(e) = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL)) {
        eprintln!("cannot tie the compile to the host's life: {e}");
        return CANNOT_RUN;
    }
    let limit = memory_mib.saturating_mul(1024 * 1024);
    if let Err(e) = rlimit::setrlimit(rlimit::Resource::AS, limit, limit) {
        eprintln!("cannot limit the address space: {e}");
        return CANNOT_RUN;
    }
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return CANNOT_RUN;
        }
    };
    let mut config = code_config(lean_memory_bytes);
    // Functions compile in parallel, as in the host (a publish took twice
    // a plain compile on one thread), on a bounded pool: each thread's
    // stack and malloc arena count against the address-space limit, so the
    // limit must not depend on the machine's core count (the parent caps
    // glibc's arenas with MALLOC_ARENA_MAX).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(COMPILE_THREADS);
    if threads < 2 || rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().is_err() {
        config.parallel_compilation(false);
    }
    let engine = match wasmtime::Engine::new(&config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("engine: {e:#}");
            return CANNOT_RUN;
        }
    };
    let component = match wasmtime::component::Component::new(&engine, &bytes) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e:#}");
            return REJECTED;
        }
    };
    let Some(out) = out else { return 0 };
    if std::os::unix::process::parent_id() != parent {
        eprintln!("the host went away during the compile; nothing written");
        return CANNOT_RUN;
    }
    // The host reads this file only under its compile-cache name, which
    // carries the engine's compatibility hash: a mismatch is never loaded.
    match component.serialize().map_err(|e| e.to_string()).and_then(|b| b2c_registry::atomic_file::write(out, &b)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("writing the compiled component to {}: {e}", out.display());
            CANNOT_RUN
        }
    }
}
