//! The SDK's rules, natively on the fake host: cursors honour `max` and
//! end, paged back ends terminate, batch helpers keep order and tally,
//! settings follow one rule, the socket reaches an in-memory peer, and the
//! export adapters build the provider once and keep the batch rules.
#![cfg(feature = "testing")]

use b2connect_provider::batch::{self, Synced};
use b2connect_provider::testing::FakeHost;
use b2connect_provider::types::*;
use b2connect_provider::{Context, Cursor, ErpProvider, Provider, ProviderError};

fn drain<T>(c: &Cursor<T>, max: u32) -> (Vec<T>, usize) {
    let (mut all, mut calls) = (Vec::new(), 0);
    loop {
        calls += 1;
        let batch = c.next_batch(max).unwrap();
        assert!(batch.len() <= max as usize, "a batch of {} for max {max}", batch.len());
        if batch.is_empty() {
            return (all, calls);
        }
        all.extend(batch);
    }
}

#[test]
fn iterator_cursor_honours_max_and_ends_for_good() {
    let c = Cursor::from_iter(0..10);
    let (all, calls) = drain(&c, 3);
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    assert_eq!(calls, 5, "3+3+3+1 then the empty end");
    assert_eq!(c.next_batch(3).unwrap(), Vec::<i32>::new(), "ended stays ended");
    assert_eq!(Cursor::from_iter(0..3).next_batch(0).unwrap(), vec![0], "max 0 is read as 1, not as the end");
}

struct Greedy(u32);
impl b2connect_provider::cursor::Source<u32> for Greedy {
    fn next(&mut self, _max: usize) -> Result<Vec<u32>, ProviderError> {
        // A source that ignores `max`: hands out everything it has at once.
        let out = (0..self.0).collect();
        self.0 = 0;
        Ok(out)
    }
}

#[test]
fn a_source_that_ignores_max_is_cut_and_nothing_is_lost() {
    let c = Cursor::new(Greedy(7));
    let (all, _) = drain(&c, 2);
    assert_eq!(all, vec![0, 1, 2, 3, 4, 5, 6]);
}

#[test]
fn results_cursor_hands_out_records_before_the_error_then_ends() {
    let items = vec![Ok(1), Ok(2), Err(ProviderError::unavailable("backend gone")), Ok(4)];
    let c = Cursor::from_results(items);
    assert_eq!(c.next_batch(10).unwrap(), vec![1, 2]);
    assert_eq!(c.next_batch(10), Err(ProviderError::Unavailable("backend gone".into())));
    assert_eq!(c.next_batch(10).unwrap(), Vec::<i32>::new(), "after an error the stream is over");
}

#[test]
fn paged_cursor_follows_tokens_skips_empty_pages_and_stops_loops() {
    // Three pages, the middle one empty: 5 records, in order.
    let pages = |t: Option<String>| -> Result<(Vec<u32>, Option<String>), ProviderError> {
        Ok(match t.as_deref() {
            None => (vec![1, 2], Some("a".into())),
            Some("a") => (vec![], Some("b".into())),
            Some("b") => (vec![3, 4, 5], None),
            Some(other) => panic!("unexpected token {other}"),
        })
    };
    let (all, _) = drain(&Cursor::paged(pages), 2);
    assert_eq!(all, vec![1, 2, 3, 4, 5]);

    // A back end that answers a token with itself would never end.
    let c = Cursor::paged(|t: Option<String>| Ok((vec![7u32], Some(t.unwrap_or_else(|| "same".into())))));
    assert_eq!(c.next_batch(5).unwrap(), vec![7]);
    let err = c.next_batch(5).unwrap_err();
    assert!(matches!(&err, ProviderError::Internal(m) if m.contains("\"same\"")), "{err:?}");
    assert!(c.next_batch(5).unwrap().is_empty());

    // Endless empty pages with fresh tokens: cut after MAX_EMPTY_PAGES.
    let mut n = 0;
    let c = Cursor::paged(move |_| {
        n += 1;
        Ok((Vec::<u32>::new(), Some(format!("t{n}"))))
    });
    assert!(matches!(c.next_batch(5), Err(ProviderError::Internal(m)) if m.contains("empty pages")));
}

#[test]
fn batch_helpers_keep_order_and_count_what_was_sent() {
    let got = batch::get_many(vec!["a".into(), "zz".into(), "b".into()], |id| {
        if id.len() == 1 { Ok(id.to_uppercase()) } else { Err(ProviderError::not_found(id)) }
    })
    .unwrap();
    assert_eq!(got, vec![Some("A".to_string()), None, Some("B".to_string())]);
    let found = batch::find_many(vec!["a".into(), "zz".into()], |id| Ok((id.len() == 1).then(|| id.to_uppercase())));
    assert_eq!(found.unwrap(), vec![Some("A".to_string()), None]);
    let err = batch::get_many(vec!["a".into()], |_| Err::<String, _>(ProviderError::timeout("slow")));
    assert_eq!(err, Err(ProviderError::Timeout("slow".into())), "only not-found becomes none");

    let r = batch::sync_each(
        vec!["new", "old", "same", "bad"],
        |s| s.to_string(),
        |s| match s {
            "new" => Ok(Synced::Created),
            "old" => Ok(Synced::Updated),
            "same" => Ok(Synced::Unchanged),
            _ => Err(ProviderError::invalid_input("no sku")),
        },
    )
    .unwrap();
    assert_eq!((r.received, r.created, r.updated, r.unchanged, r.failed), (4, 1, 1, 1, 1));
    assert_eq!(r.failures.len(), 1);
    assert_eq!((r.failures[0].index, r.failures[0].id.as_str()), (3, "bad"));
    let r = batch::sync_each(vec![1, 2], |i| i.to_string(), |_| Err(ProviderError::unsupported("sync-products")));
    assert!(matches!(r, Err(ProviderError::Unsupported(_))), "unsupported is the call's answer, not 2 failures");
}

#[test]
fn settings_follow_one_rule_for_bad_and_missing_values() {
    let _host = FakeHost::new("acme").setting("n", " 42 ").setting("bad", "4x").install();
    let ctx = Context::current();
    assert_eq!(ctx.tenant_id(), "acme");
    assert_eq!(ctx.setting_or("n", 1u32), Ok(42), "whitespace is trimmed");
    assert_eq!(ctx.setting_or("missing", 7u32), Ok(7));
    let err = ctx.setting_or("bad", 1u32).unwrap_err();
    assert!(
        matches!(&err, ProviderError::InvalidInput(m) if m.contains("`bad`") && m.contains("\"4x\"") && m.contains("u32")),
        "{err:?}"
    );
    let err = ctx.require::<String>("url").unwrap_err();
    assert!(matches!(&err, ProviderError::InvalidInput(m) if m.contains("`url`") && m.contains("required")), "{err:?}");
    assert_eq!(ctx.settings().len(), 2);
}

#[test]
fn socket_reaches_the_granted_peer_only() {
    use std::io::{Read, Write};
    let _host = FakeHost::new("acme")
        .socket("erp:7001", || {
            let (mine, theirs) = std::os::unix::net::UnixStream::pair()?;
            std::thread::spawn(move || {
                let mut s = theirs;
                let mut buf = [0u8; 5];
                s.read_exact(&mut buf).unwrap();
                buf.reverse();
                s.write_all(&buf).unwrap();
            });
            Ok(mine)
        })
        .install();
    let ctx = Context::current();
    let mut conn = ctx.connect().unwrap();
    conn.send(b"hello").unwrap();
    assert_eq!(conn.receive_exact(5).unwrap(), b"olleh");
    assert_eq!(
        conn.receive(16).map_err(ProviderError::from),
        Err(ProviderError::unavailable("back end closed the connection"))
    );
    let denied = b2connect_provider::Connection::open("elsewhere:1").err().unwrap();
    assert!(matches!(ProviderError::from(denied), ProviderError::Unavailable(m) if m.contains("access denied")));

    let _host = FakeHost::new("acme").install();
    assert!(
        matches!(Context::current().connect(), Err(ProviderError::Unavailable(m)) if m.contains("no socket endpoint"))
    );
}

#[test]
fn log_macros_reach_the_host_with_their_level() {
    let host = FakeHost::new("acme").install();
    b2connect_provider::info!("ready with {} products", 3);
    b2connect_provider::warn!("slow");
    let logs = host.logs();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0], (b2connect_provider::log::Level::Info, "ready with 3 products".to_string()));
    assert_eq!(logs[1].0, b2connect_provider::log::Level::Warn);
}

/// A provider that only writes `get-product`: the batch default, the
/// unsupported defaults and the once-per-instance constructor.
struct Tiny {
    built: u32,
}
static BUILT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Provider for Tiny {
    fn new(ctx: &Context) -> Result<Self, ProviderError> {
        let fail: bool = ctx.setting_or("fail", false)?;
        if fail {
            return Err(ProviderError::unavailable("configured to fail"));
        }
        Ok(Tiny { built: BUILT.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 })
    }
}

impl ErpProvider for Tiny {
    fn get_product(&mut self, id: String) -> Result<Product, ProviderError> {
        if id.starts_with('P') { Ok(product(&id, self.built)) } else { Err(ProviderError::not_found(id)) }
    }
}

b2connect_provider::export_provider!(Tiny: erp);

fn product(id: &str, stock: u32) -> Product {
    Product {
        id: id.into(),
        sku: id.into(),
        name: id.into(),
        description: String::new(),
        category_id: "C".into(),
        price: Money { amount_minor: 1, currency: "EUR".into() },
        stock: stock as i64,
        unit: "pcs".into(),
        active: true,
        modified_at: 0,
    }
}

#[test]
fn exports_build_the_provider_once_and_default_what_it_left_out() {
    use b2connect_provider::bindings::exports::b2connect::provider::erp_provider::Guest;
    type E = b2connect_provider::Exports<Tiny>;

    let _host = FakeHost::new("acme").setting("fail", "yes").install();
    let err = E::get_product("P1".into()).unwrap_err();
    assert!(matches!(&err, ProviderError::InvalidInput(m) if m.contains("`fail`")), "{err:?}");

    let _host = FakeHost::new("acme").install();
    let before = BUILT.load(std::sync::atomic::Ordering::SeqCst);
    let got = E::get_products(vec!["P1".into(), "X".into(), "P2".into()]).unwrap();
    let ids: Vec<_> = got.iter().map(|p| p.as_ref().map(|p| p.id.clone())).collect();
    assert_eq!(ids, vec![Some("P1".into()), None, Some("P2".into())]);
    assert_eq!(E::get_product("P3".into()).unwrap().stock, (before + 1) as i64, "one instance for both calls");
    assert_eq!(BUILT.load(std::sync::atomic::Ordering::SeqCst), before + 1);
    assert!(matches!(E::get_customer("C1".into()), Err(ProviderError::Unsupported(m)) if m.contains("get-customer")));
    assert!(matches!(E::create_orders(vec![]), Ok(r) if r.items.is_empty()), "an empty batch is an empty answer");
    assert!(matches!(E::sync_products(vec![product("P1", 1)]), Err(ProviderError::Unsupported(_))));
}
