//! Command-line interface: typed, validated once, with `--help` on each
//! command. Every flag of `serve` can also come from the environment.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "b2c-host",
    version,
    about = "B2Connect provider host: runs ERP/CRM/PIM plugins as WebAssembly components and serves them over REST"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the host. An empty data dir gets the bundled mock-erp plugin and a
    /// `demo` tenant bound to it.
    Serve(ServeArgs),
    /// Plugins: write a new one, check one against the contract (both
    /// local), and manage a running host's registry (operator API).
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Manage tenants: bindings, rollback, API keys (operator API).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Print the OpenAPI 3.1 document of the REST API.
    Openapi,
    /// Write the provider contract (the WIT package this host implements)
    /// for plugin authors: to stdout, or into DIR as
    /// `b2connect-provider@VERSION.wit`.
    Wit {
        /// Directory to write the package file into (created if missing).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a shell completion script, e.g.
    /// `b2c-host completions bash > /etc/bash_completion.d/b2c-host`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Internal: compile a component under a memory limit (the compile
    /// sandbox of `serve` runs this as a child process).
    #[command(hide = true)]
    CompileCheck {
        #[arg(long)]
        memory_mib: u64,
        /// Where to write the compiled component (the host's compile cache).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The host's lean address-space reservation per memory, if set.
        #[arg(long)]
        lean_memory_bytes: Option<u64>,
        file: PathBuf,
    },
    /// A live view of every tenant, redrawn every second: request rate,
    /// latency, errors, cache hits, queue, restarts, breaker (operator API).
    Top(TopArgs),
    /// Show the newest audit log entries (operator API).
    Audit {
        #[command(flatten)]
        conn: Connection,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// Where the operator API is and how to authenticate.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Base URL of the running host.
    #[arg(long, env = "B2C_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Admin token of that host.
    #[arg(long, env = "B2C_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
    /// Output: a table for people, or the API's answer as json or yaml.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Milliseconds between frames.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub interval_ms: u64,
    /// Order of the rows: the busiest first by this figure (or by tenant id).
    #[arg(long, value_enum, default_value = "rps")]
    pub sort: SortKey,
    /// Print one frame and exit (exit code as for the other commands).
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Write a new provider crate on the provider SDK: it builds with
    /// `cargo build --release --target wasm32-wasip2` (or `cargo component
    /// build --release`), has a unit test on the SDK's fake host and a
    /// README. Needs no running host.
    New {
        /// Plugin (and crate) name: lowercase letters, digits and '-'.
        name: String,
        /// Provider kinds it serves, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "erp")]
        kinds: Vec<crate::ProviderKind>,
        /// Directory to create (default: ./NAME); must not exist.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Check a component against the contract's behavioural rules on the
    /// data it serves (batch order, unknown ids, streams that end and honour
    /// their filters, single gets equal to streamed records, catalog pages
    /// that cover the stream, …). Prints rule, result and the first
    /// counter-example; exits 1 when a rule fails. Needs no running host.
    Check {
        /// The .wasm component.
        file: PathBuf,
        /// A setting for the plugin, KEY=VALUE; repeat for more.
        #[arg(long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// The endpoint the plugin may connect to (host:port), e.g. a test
        /// container.
        #[arg(long)]
        socket: Option<String>,
        /// Also run the rules that write: sync the same records twice,
        /// create two orders. Off by default: the back end may be real.
        #[arg(long)]
        writes: bool,
        /// How long the whole check may take, in seconds: past it the check
        /// stops, `check.finishes-within-deadline` fails and the rules not
        /// yet judged are skipped.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout_secs: u64,
        /// Each call's timeout, in milliseconds: set it to the serving host's
        /// `--call-timeout-ms` to judge a provider as that host's publish
        /// check does.
        #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
        call_timeout_ms: u64,
        /// Output: a table for people, or the results as json or yaml.
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Output,
    },
    /// Publish a component file as NAME@VERSION.
    Publish {
        #[command(flatten)]
        conn: Connection,
        /// The .wasm component.
        file: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        version: String,
    },
    /// List plugins and their versions.
    List {
        #[command(flatten)]
        conn: Connection,
    },
    /// Show a plugin's versions, or one version.
    Show {
        #[command(flatten)]
        conn: Connection,
        name: String,
        version: Option<String>,
    },
    /// Download a version's component.
    Download {
        #[command(flatten)]
        conn: Connection,
        name: String,
        version: String,
        /// File to write (replaced atomically).
        #[arg(short, long)]
        file: PathBuf,
    },
    /// Hide a version from resolution (it stays downloadable and pinned).
    Yank {
        #[command(flatten)]
        conn: Connection,
        name: String,
        version: String,
    },
    /// Undo a yank.
    Unyank {
        #[command(flatten)]
        conn: Connection,
        name: String,
        version: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Bind a tenant: per kind PLUGIN@REQUIREMENT (e.g. mock-erp@^1).
    Bind {
        #[command(flatten)]
        conn: Connection,
        tenant: String,
        #[arg(long)]
        erp: Option<String>,
        #[arg(long)]
        crm: Option<String>,
        #[arg(long)]
        pim: Option<String>,
        /// A setting for the plugin, KEY=VALUE; repeat for more.
        #[arg(long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// The one endpoint the tenant's plugin may connect to (host:port).
        #[arg(long)]
        socket: Option<String>,
    },
    /// Show a tenant's binding, history and keys.
    Show {
        #[command(flatten)]
        conn: Connection,
        tenant: String,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        conn: Connection,
    },
    /// Return a tenant to its previous binding.
    Rollback {
        #[command(flatten)]
        conn: Connection,
        tenant: String,
    },
    /// Force a full resync: forget what was synced, so the next sync sends
    /// every record again (e.g. after the ERP was restored from a backup).
    Resync {
        #[command(flatten)]
        conn: Connection,
        tenant: String,
    },
    /// Create an API key; it is printed once.
    CreateKey {
        #[command(flatten)]
        conn: Connection,
        tenant: String,
        #[arg(long)]
        label: Option<String>,
    },
    /// Revoke an API key by id.
    RevokeKey {
        #[command(flatten)]
        conn: Connection,
        tenant: String,
        key_id: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "B2C_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for the registry database, artifacts and compile cache.
    #[arg(long, env = "B2C_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Operator token for /admin/v1 (generated and printed when unset).
    #[arg(long, env = "B2C_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// API key of the `demo` tenant (generated and printed when unset).
    #[arg(long, env = "B2C_DEMO_KEY", hide_env_values = true)]
    pub demo_key: Option<String>,
    /// Do not publish the bundled mock-erp or create the demo tenant.
    #[arg(long, env = "B2C_NO_DEMO")]
    pub no_demo: bool,
    /// Calls that may wait per tenant actor before requests get 503.
    #[arg(long, env = "B2C_QUEUE_CAPACITY", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub queue_capacity: u32,
    /// Wall-clock limit of one plugin call, in milliseconds.
    #[arg(long, env = "B2C_CALL_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub call_timeout_ms: u64,
    /// CPU budget of one plugin call, in milliseconds of guest execution.
    #[arg(long, env = "B2C_CPU_BUDGET_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub cpu_budget_ms: u64,
    /// Consecutive backend failures (unavailable, timeout, trap) after which
    /// a tenant's calls fail fast.
    #[arg(long, env = "B2C_BREAKER_THRESHOLD", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub breaker_threshold: u32,
    /// How long an open circuit breaker fails calls fast, in milliseconds.
    #[arg(long, env = "B2C_BREAKER_COOLDOWN_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub breaker_cooldown_ms: u64,
    /// Timeout of a plugin's socket connect, in milliseconds.
    #[arg(long, env = "B2C_SOCKET_CONNECT_TIMEOUT_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub socket_connect_timeout_ms: u64,
    /// Timeout of one socket read or write, in milliseconds.
    #[arg(long, env = "B2C_SOCKET_IO_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub socket_io_timeout_ms: u64,
    /// Largest single socket send or receive (a protocol frame), in bytes.
    #[arg(long, env = "B2C_SOCKET_MAX_FRAME_BYTES", default_value_t = 16 * 1024 * 1024, value_parser = clap::value_parser!(u32).range(1024..=1_073_741_824))]
    pub socket_max_frame_bytes: u32,
    /// Memory one plugin instance may use, in MiB.
    #[arg(long, env = "B2C_INSTANCE_MEMORY_MIB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub instance_memory_mib: u64,
    /// Cache TTL of master data (products, customers, contacts, categories,
    /// catalog), in seconds; 0 disables the response cache.
    #[arg(long, env = "B2C_CACHE_MASTER_TTL_SECS", default_value_t = 300)]
    pub cache_master_ttl_secs: u64,
    /// Cache TTL of transactional data (activities), in seconds.
    #[arg(long, env = "B2C_CACHE_TRANSACTIONAL_TTL_SECS", default_value_t = 30)]
    pub cache_transactional_ttl_secs: u64,
    /// Response cache entries kept at most (all tenants); 0 disables it.
    #[arg(long, env = "B2C_CACHE_MAX_ENTRIES", default_value_t = 100_000)]
    pub cache_max_entries: u64,
    /// Largest plugin component accepted by publish, in MiB.
    #[arg(long, env = "B2C_MAX_UPLOAD_MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub max_upload_mib: u64,
    /// Publish runs the provider conformance check (`plugin check`'s read
    /// rules, no settings, no socket) and refuses a component that fails a
    /// rule with 422 `nonconformant-plugin`. A provider that answers
    /// `unavailable` or `invalid-input` without a binding's back end and
    /// settings has its rules skipped.
    #[arg(long, env = "B2C_REQUIRE_CONFORMANCE")]
    pub require_conformance: bool,
    /// How long publish's conformance check may take, in seconds; a check
    /// still running then fails (422), so a provider that answers each call
    /// just inside the call timeout cannot hold a publish for long.
    #[arg(long, env = "B2C_CONFORMANCE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub conformance_timeout_secs: u64,
    /// Requests per second each tenant may send before 429 (0: unlimited);
    /// `limits.ratePerSec` in a binding's config overrides it per tenant.
    #[arg(long, env = "B2C_RATE_PER_SEC", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub rate_per_sec: u32,
    /// Requests a tenant may send at once above its rate (default: one
    /// second's worth).
    #[arg(long, env = "B2C_RATE_BURST", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_burst: Option<u32>,
    /// Resource handles one plugin instance may hold (host and component
    /// tables each).
    #[arg(long, env = "B2C_MAX_HANDLES", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(16..=1_000_000))]
    pub max_handles: u32,
    /// Longest a plugin compile (publish, or first load) may take, in
    /// milliseconds; a slower upload is rejected with 422.
    #[arg(long, env = "B2C_COMPILE_TIMEOUT_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub compile_timeout_ms: u64,
    /// Address space the compile of an upload may use, in MiB (it runs in
    /// a child process; over the limit the upload is refused with 422).
    #[arg(long, env = "B2C_COMPILE_MEMORY_MIB", default_value_t = 2048, value_parser = clap::value_parser!(u64).range(128..=65_536))]
    pub compile_memory_mib: u64,
    /// The compile sandbox's executable and leading arguments (set by the
    /// binary that runs `serve`; unset, uploads compile in-process).
    #[arg(skip)]
    pub compile_sandbox: Option<(PathBuf, Vec<String>)>,
    /// How long a shutdown (SIGTERM/SIGINT) waits for in-flight requests
    /// and streams before it closes them, in milliseconds.
    #[arg(long, env = "B2C_SHUTDOWN_GRACE_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub shutdown_grace_ms: u64,
    /// Plugin instances the engine's pool has room for.
    #[arg(long, env = "B2C_MAX_INSTANCES", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_instances: u32,
    /// Bytes a plugin may pass to the host in one call, in MiB: its answer
    /// as lifted into host memory, or one host call's arguments (over it:
    /// 502 answer-too-large, instance discarded); `limits.maxAnswerMib`.
    #[arg(long, env = "B2C_MAX_ANSWER_MIB", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub max_answer_mib: u64,
    /// JSON the host writes from one plugin answer (a record, a batch, one
    /// pull of a stream), in MiB; `limits.maxAnswerJsonMib`.
    #[arg(long, env = "B2C_MAX_ANSWER_JSON_MIB", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub max_answer_json_mib: u64,
    /// Plugin log records per second per tenant; more are dropped and
    /// counted (`erp_provider_plugin_log_dropped`); `limits.logPerSec`.
    #[arg(long, env = "B2C_LOG_PER_SEC", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub log_per_sec: u32,
    /// Plugin log records a tenant may write at once above its rate;
    /// `limits.logBurst`.
    #[arg(long, env = "B2C_LOG_BURST", default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub log_burst: u32,
    /// Bytes the response cache may hold over all tenants, in MiB.
    #[arg(long, env = "B2C_CACHE_MIB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub cache_mib: u64,
    /// Bytes one tenant's cached answers may hold, in MiB.
    #[arg(long, env = "B2C_CACHE_TENANT_MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub cache_tenant_mib: u64,
    /// Largest answer the cache keeps, in KiB (bigger ones are served, not
    /// cached).
    #[arg(long, env = "B2C_CACHE_ENTRY_MAX_KIB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub cache_entry_max_kib: u64,
    /// Largest order answer kept for `Idempotency-Key` replays, in KiB; a
    /// larger one is not kept (the order succeeds; a replay gets 409).
    #[arg(long, env = "B2C_IDEMPOTENCY_RECORD_MAX_KIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub idempotency_record_max_kib: u64,
    /// Reserve only `--instance-memory-mib` of address space per plugin
    /// memory instead of 4 GiB (for hosts under an address-space limit such
    /// as `ulimit -v`; guest code gets explicit bounds checks).
    #[arg(long, env = "B2C_LEAN_ADDRESS_SPACE")]
    pub lean_address_space: bool,
    /// Bytes of stored idempotency answers per tenant, in MiB.
    #[arg(long, env = "B2C_IDEMPOTENCY_TENANT_MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub idempotency_tenant_mib: u64,
}

impl ServeArgs {
    /// Defaults for tests and embedding: every value as if no flag was given.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let cli = Cli::parse_from(["b2c-host", "serve"]);
        let Command::Serve(mut args) = cli.command else { unreachable!("parsed `serve`") };
        args.data_dir = data_dir.into();
        args
    }
}

/// `-o`: who reads the output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Aligned tables and summaries, for people.
    #[default]
    Table,
    /// The API's answer, unchanged (pretty-printed).
    Json,
    /// The API's answer as YAML.
    Yaml,
}

/// What `--sort` orders by; the busiest first except for `tenant`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    #[default]
    Rps,
    P99,
    Errors,
    Queue,
    Restarts,
    Tenant,
}
