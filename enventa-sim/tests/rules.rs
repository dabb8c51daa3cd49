//! The simulator detects the enventa rules it is there to police; without
//! this, "0 violations" in the bridge tests would prove nothing.

use enventa_proto::v1::{self, request, response};
use enventa_proto::{FrameReader, encode};
use enventa_sim::{Faults, Sim, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Client {
    s: TcpStream,
    r: FrameReader,
    id: u64,
}

impl Client {
    async fn connect(sim: &Sim) -> Client {
        Client { s: TcpStream::connect(sim.addr).await.unwrap(), r: FrameReader::new(1 << 24), id: 0 }
    }
    async fn send(&mut self, body: request::Body) -> u64 {
        self.id += 1;
        self.s.write_all(&encode(&v1::Request { request_id: self.id, body: Some(body) })).await.unwrap();
        self.id
    }
    async fn recv(&mut self) -> v1::Response {
        loop {
            if let Some(r) = self.r.next::<v1::Response>().unwrap() {
                return r;
            }
            let mut buf = [0u8; 4096];
            let n = self.s.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed");
            self.r.push(&buf[..n]);
        }
    }
    async fn call(&mut self, body: request::Body) -> response::Body {
        let id = self.send(body).await;
        let r = self.recv().await;
        assert_eq!(r.request_id, id);
        r.body.unwrap()
    }
    async fn open(sim: &Sim) -> Client {
        let mut c = Client::connect(sim).await;
        let hello =
            c.call(request::Body::Hello(v1::Hello { protocol_version: 1, client: "t".into(), minor_version: 1 })).await;
        assert!(matches!(hello, response::Body::HelloOk(ref h) if h.max_ids_per_request == 1000));
        let login = c.call(request::Body::Login(v1::Login { user: "u".into(), ..Default::default() })).await;
        assert!(matches!(login, response::Body::LoginOk(_)));
        c
    }
}

async fn sim(faults: Faults) -> Sim {
    Sim::start(SimConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_listen: None,
        articles: 100,
        customers: 10,
        faults,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn code(b: &response::Body) -> Option<v1::ErrorCode> {
    match b {
        response::Body::Error(e) => v1::ErrorCode::try_from(e.code).ok(),
        _ => None,
    }
}

#[tokio::test]
async fn overlapping_operations_on_one_session_are_counted_and_refused() {
    let sim = sim(Faults { latency_ms: 100, ..Default::default() }).await;
    let mut c = Client::open(&sim).await;
    // Pipeline two requests without waiting: the second overlaps the first.
    let a = c.send(request::Body::Ping(v1::Ping { nonce: 1 })).await;
    let b = c.send(request::Body::Ping(v1::Ping { nonce: 2 })).await;
    let mut answers = [c.recv().await, c.recv().await];
    answers.sort_by_key(|r| r.request_id);
    assert_eq!(answers[0].request_id, a);
    assert!(matches!(answers[0].body, Some(response::Body::Pong(v1::Pong { nonce: 1 }))));
    assert_eq!(answers[1].request_id, b);
    assert_eq!(code(answers[1].body.as_ref().unwrap()), Some(v1::ErrorCode::Busy));
    assert_eq!(sim.stats().json()["violations"]["overlappingOperations"], 1);
}

#[tokio::test]
async fn concurrent_logins_are_counted() {
    // Long enough that b's Login lands during a's however slow the machine.
    let sim = sim(Faults { login_delay_ms: 2000, ..Default::default() }).await;
    let mut a = Client::connect(&sim).await;
    let mut b = Client::connect(&sim).await;
    for c in [&mut a, &mut b] {
        c.call(request::Body::Hello(v1::Hello { protocol_version: 1, client: "t".into(), minor_version: 1 })).await;
    }
    let login = || request::Body::Login(v1::Login { user: "u".into(), ..Default::default() });
    a.send(login()).await;
    // b's Login is sent once a's runs (it runs for 2 s, far longer than
    // b's round trip).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !sim.login_running() {
        assert!(std::time::Instant::now() < deadline, "a's Login never started");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let second = b.call(login()).await;
    assert_eq!(code(&second), Some(v1::ErrorCode::Busy));
    assert!(matches!(a.recv().await.body, Some(response::Body::LoginOk(_))));
    assert_eq!(sim.stats().json()["violations"]["concurrentLogins"], 1);
}

#[tokio::test]
async fn in_lists_over_1000_and_protocol_misuse_are_refused() {
    let sim = sim(Faults::default()).await;
    let mut c = Client::open(&sim).await;
    let ids: Vec<String> = (1..=1001).map(|i| format!("A{i:07}")).collect();
    let r = c.call(request::Body::GetByIds(v1::GetByIds { entity: v1::Entity::Article as i32, ids })).await;
    assert_eq!(code(&r), Some(v1::ErrorCode::InvalidRequest));
    let cond = v1::Condition {
        field: "id".into(),
        op: Some(v1::condition::Op::In(v1::StringList { values: (0..1500).map(|i| i.to_string()).collect() })),
    };
    let q =
        v1::Query { entity: v1::Entity::Article as i32, conditions: vec![cond], page_size: 10, ..Default::default() };
    assert_eq!(code(&c.call(request::Body::Query(q)).await), Some(v1::ErrorCode::InvalidRequest));
    assert_eq!(sim.stats().json()["violations"]["idsOverLimit"], 2);
    // Exactly 1000 is fine.
    let ids: Vec<String> = (1..=1000).map(|i| format!("A{i:07}")).collect();
    match c.call(request::Body::GetByIds(v1::GetByIds { entity: v1::Entity::Article as i32, ids })).await {
        response::Body::Records(r) => assert_eq!((r.records.len(), r.missing.len()), (100, 900)),
        other => panic!("{other:?}"),
    }
    // A second login on one connection, and operations before Login.
    let again = c.call(request::Body::Login(v1::Login { user: "u".into(), ..Default::default() })).await;
    assert_eq!(code(&again), Some(v1::ErrorCode::InvalidRequest));
    let mut fresh = Client::connect(&sim).await;
    let r = fresh.call(request::Body::Ping(v1::Ping { nonce: 1 })).await;
    assert_eq!(code(&r), Some(v1::ErrorCode::InvalidRequest), "Hello must come first");
    fresh.call(request::Body::Hello(v1::Hello { protocol_version: 1, client: "t".into(), minor_version: 1 })).await;
    let r = fresh.call(request::Body::GetByIds(v1::GetByIds { entity: 1, ids: vec!["A0000001".into()] })).await;
    assert_eq!(code(&r), Some(v1::ErrorCode::NotLoggedIn));
}

#[tokio::test]
async fn conformance_kit_passes_against_the_simulator_and_names_a_broken_check() {
    let creds = enventa_sim::conformance::Credentials { user: "kit".into(), ..Default::default() };
    let good = sim(Faults::default()).await;
    let checks = enventa_sim::conformance::run(good.addr, &creds).await;
    let failed: Vec<_> = checks.iter().filter(|c| !c.passed).map(|c| format!("{}: {}", c.name, c.detail)).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(checks.len(), CHECKS);
    assert!(checks.iter().all(|c| c.section.starts_with('§') && c.detail.starts_with(&format!("[{}]", c.section))));
    let v = &good.stats().json()["violations"];
    assert_eq!(
        (v["idsOverLimit"].as_u64(), v["pageSizeOverLimit"].as_u64(), v["frameOverLimit"].as_u64()),
        // page-size and stream-errors each send one page size above the maximum.
        (Some(2), Some(2), Some(1)),
        "only the kit's deliberate limit probes: {v}"
    );
    assert_eq!(v["concurrentLogins"], 0, "the kit never sends two Logins at once");

    let broken = sim(Faults { wrong_request_id: true, ..Default::default() }).await;
    let checks = enventa_sim::conformance::run(broken.addr, &creds).await;
    assert!(checks.iter().all(|c| !c.passed), "a server that echoes wrong ids fails everything");
    assert!(checks[0].detail.contains("request_id"), "{}", checks[0].detail);
}

/// Number of checks the kit runs against a container it can log in to.
const CHECKS: usize = 29;

/// For each rule, a simulator that breaks exactly that rule fails exactly
/// the kit's check for it: every check can fail, and names the right rule.
#[tokio::test]
async fn each_broken_rule_fails_exactly_its_check() {
    use enventa_sim::Broken::*;
    let creds = enventa_sim::conformance::Credentials { user: "kit".into(), ..Default::default() };
    let cases = [
        (IgnoresMinorVersion, "negotiation-1.0"),
        (NoHelloFirst, "hello-first"),
        (LoginTwice, "login-once"),
        (IgnoresLogout, "logout"),
        (MissingAsError, "get-by-ids"),
        (NoIdLimit, "id-limit"),
        (PageSizeZero, "page-size"),
        (UnboundTokens, "continuation-bound"),
        (CaseSensitiveLike, "conditions"),
        (NoLikeEscape, "like-escape"),
        (UpsertReplaces, "upsert-merge"),
        (LosesOrders, "orders"),
        (StreamIgnoresCredit, "stream-credit"),
        (StreamIgnoresCancel, "stream-cancel"),
        (StreamIgnoresContinuation, "stream-query"),
    ];
    for (broken, check) in cases {
        let sim = Sim::start(SimConfig {
            articles: 100,
            customers: 10,
            protocol: enventa_sim::ProtocolConfig { broken: Some(broken), ..Default::default() },
            ..Default::default()
        })
        .await
        .unwrap();
        let checks = enventa_sim::conformance::run(sim.addr, &creds).await;
        assert_eq!(checks.len(), CHECKS, "{broken:?}");
        let failed: Vec<&str> = checks.iter().filter(|c| !c.passed).map(|c| c.name).collect();
        assert_eq!(failed, [check], "{broken:?}: {:?}", checks.iter().filter(|c| !c.passed).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn the_kit_checks_credentials_when_given_a_password() {
    let sim = Sim::start(SimConfig {
        protocol: enventa_sim::ProtocolConfig { password: Some("secret".into()), ..Default::default() },
        ..Default::default()
    })
    .await
    .unwrap();
    let creds =
        enventa_sim::conformance::Credentials { user: "kit".into(), password: "secret".into(), mandant: "1".into() };
    let checks = enventa_sim::conformance::run(sim.addr, &creds).await;
    let auth = checks.iter().find(|c| c.name == "auth-failed").unwrap();
    assert!(auth.passed && auth.detail.contains("AuthFailed"), "{auth:?}");
}

#[test]
fn conformance_binary_prints_a_line_per_check() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(sim(Faults::default()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_enventa-conformance"))
        .arg(sim.addr.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("PASS ")).count(), CHECKS, "{text}");
    assert!(text.contains(&format!("conformance: {CHECKS} passed, 0 failed")));
    drop(sim);
    drop(rt);
}
