//! Unit tests of the relay's offline queue: room, order, acknowledgements, dead letters.

use super::*;
use http_body_util::Full;

fn arrival(name: &str) -> Arrival {
    Arrival {
        name: name.into(),
        arrived_us: 7,
        method: "POST".into(),
        uri: "/hook?a=1".into(),
        headers: vec![
            ("x-a".into(), b"1".to_vec()),
            ("x-a".into(), b"2: b".to_vec()),
        ],
    }
}

const BOUNDS: Bounds = Bounds {
    max_requests: 2,
    max_bytes: 10,
    max_total_bytes: 1 << 20,
};

/// Queues `body` for `name` as the ingress does: reserve, spool, push.
async fn push(queue: &Queue, name: &str, body: &'static [u8]) -> Result<i64, Refused> {
    let reservation = queue
        .reserve(name, body.len() as u64, BOUNDS)
        .await
        .unwrap()?;
    let spooled = super::super::spool::spool(
        queue.spool_dir(),
        Full::new(Bytes::from_static(body)),
        reservation,
        1 << 20,
    )
    .await
    .unwrap();
    Ok(queue.push(arrival(name), spooled).await.unwrap())
}

async fn body(queue: &Queue, item: &QueuedRequest) -> Vec<u8> {
    let mut out = Vec::new();
    while (out.len() as u64) < item.body_len {
        let chunk = queue
            .body_chunk(item.id, out.len() as u64, 3)
            .await
            .unwrap();
        assert!(!chunk.is_empty());
        out.extend_from_slice(&chunk);
    }
    out
}

#[test]
fn the_queue_commits_to_disk_before_answering() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(Some(dir.path())).unwrap();
    let conn = queue.conn.lock().unwrap();
    let synchronous: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(synchronous, 2, "synchronous=FULL");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn queues_in_order_within_bounds_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let instance;
    {
        let queue = Queue::open(Some(dir.path())).unwrap();
        instance = queue.instance().to_string();
        push(&queue, "a", b"first").await.unwrap();
        assert_eq!(
            push(&queue, "a", b"second").await.unwrap_err(),
            Refused::NameFull
        );
        push(&queue, "a", b"2nd").await.unwrap();
        assert_eq!(
            push(&queue, "a", b"x").await.unwrap_err(),
            Refused::NameFull
        );
        queue.claim("a", [1; 32], false, false).await.unwrap();
        assert_eq!(queue.bytes(), 8, "what was refused holds no room");
    }
    let queue = Queue::open(Some(dir.path())).unwrap();
    assert_eq!(queue.instance(), instance, "the instance id is kept");
    assert_eq!((queue.depth(), queue.bytes()), (2, 8));
    assert_eq!(queue.owner("a").await.unwrap(), Some([1; 32]));
    let first = queue.oldest("a").await.unwrap().unwrap();
    assert_eq!(body(&queue, &first).await, b"first");
    assert_eq!(first.headers, arrival("a").headers);
    queue.delete(first.id).await.unwrap();
    let second = queue.oldest("a").await.unwrap().unwrap();
    assert_eq!(body(&queue, &second).await, b"2nd");
    assert!(queue.oldest("b").await.unwrap().is_none());
    assert_eq!((queue.depth(), queue.bytes()), (1, 3));
    assert_eq!(
        std::fs::read_dir(dir.path().join("spool")).unwrap().count(),
        0,
        "no spool file is left behind"
    );
}

#[tokio::test]
async fn the_relay_wide_cap_counts_every_name() {
    let queue = Queue::open(None).unwrap();
    let bounds = Bounds {
        max_requests: 10,
        max_bytes: 10,
        max_total_bytes: 12,
    };
    let first = queue.reserve("a", 8, bounds).await.unwrap().unwrap();
    assert_eq!(
        queue.reserve("b", 8, bounds).await.unwrap().unwrap_err(),
        Refused::RelayFull
    );
    drop(first);
    assert!(queue.reserve("b", 8, bounds).await.unwrap().is_ok());
}
