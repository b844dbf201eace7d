//! Unit tests of the store: its writer, retention, ids and reads.

use super::*;
use crate::exchange::{Body, ExchangeId, RecordedRequest, Source};

pub(super) fn exchange(path: &str) -> Exchange {
    Exchange {
        id: ExchangeId::generate(),
        received_at_us: 1,
        source: Source::Local,
        public_url: None,
        target: "http://127.0.0.1:1".into(),
        request: RecordedRequest {
            method: "POST".into(),
            uri: path.into(),
            version: "HTTP/1.1".into(),
            headers: vec![("x".into(), b"y".to_vec())],
            body: Body::full(b"{}".to_vec()),
        },
        response: None,
        ttfb_us: None,
        duration_us: 5,
        error: Some("down".into()),
        replay_of: None,
        verdict: None,
    }
}

#[tokio::test]
async fn retention_keeps_the_newest() {
    let store = Store::open(Options {
        location: Location::Memory,
        retain: 3,
        retain_bytes: None,
        verdict: None,
    })
    .unwrap();
    for i in 0..5 {
        store.record(exchange(&format!("/{i}")));
    }
    store.flush().await.unwrap();
    let paths: Vec<_> = store
        .list(&Filter::default())
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect();
    assert_eq!(paths, ["/4", "/3", "/2"]);
}

#[tokio::test]
async fn a_full_queue_keeps_records_while_the_writer_makes_progress() {
    let options = Options {
        location: Location::Memory,
        retain: 10,
        retain_bytes: None,
        verdict: None,
    };
    // Room for nothing: every record is past the bound, and none is dropped.
    let store = Store::open_with_pending_limit(options, 0).unwrap();
    store.record(exchange("/a"));
    store.record(exchange("/b"));
    store.flush().await.unwrap();
    assert_eq!(store.dropped(), 0);
    assert_eq!(store.list(&Filter::default()).unwrap().len(), 2);
    tokio::time::timeout(std::time::Duration::from_secs(10), store.room())
        .await
        .expect("room once written");
}

#[tokio::test]
async fn two_stores_on_one_file_never_lose_or_mix_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let open = || {
        Store::open(Options {
            location: Location::File(path.clone()),
            retain: 1000,
            retain_bytes: None,
            verdict: None,
        })
        .unwrap()
    };
    let (a, b) = (open(), open());
    // The same ids on both sides, as two processes minting ids in one millisecond.
    let mut waits = Vec::new();
    for i in 0..50 {
        let ex = exchange(&format!("/a{i}"));
        let mut twin = ex.clone();
        twin.request.uri = format!("/b{i}");
        for (store, ex) in [(&a, ex), (&b, twin)] {
            let (tx, rx) = tokio::sync::oneshot::channel();
            store.record_then(ex.clone(), Some(tx));
            waits.push((ex.request.uri.clone(), rx));
        }
    }
    let reader = Store::open_read_only(&path).unwrap();
    for (uri, rx) in waits {
        let committed = rx.await.expect("committed");
        let stored = reader.get(committed.id.as_str()).unwrap();
        assert_eq!(stored.request.uri, uri, "the id told names this record");
    }
    assert_eq!(reader.list(&Filter::default()).unwrap().len(), 100);
}

#[tokio::test]
async fn a_file_store_is_read_back_by_a_read_only_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(Options {
        location: Location::File(path.clone()),
        retain: 10,
        retain_bytes: None,
        verdict: None,
    })
    .unwrap();
    let ex = exchange("/a");
    store.record(ex.clone());
    store.flush().await.unwrap();
    let reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.get(&ex.id.as_str()[..10]).unwrap(), ex);
}
