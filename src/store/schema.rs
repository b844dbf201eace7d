//! The SQLite schema, its version check, and the mapping between rows and [`Exchange`]s.

use anyhow::{Context, bail};
use rusqlite::{CachedStatement, Connection, Row, Statement, params};

use crate::exchange::{
    Body, Exchange, ExchangeId, Header, RecordedRequest, RecordedResponse, Source,
};
use crate::signature::Verdict;

/// Page size of a new store file, in bytes.
const PAGE_SIZE: i64 = 16 * 1024;

/// The schema version this build writes (`PRAGMA user_version`).
/// 2 added `queued_id`.
pub const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS exchanges (
    id             INTEGER PRIMARY KEY, -- the 60-bit number behind the text id (the rowid)
    received_at_us INTEGER NOT NULL,
    source         TEXT NOT NULL,
    public_url     TEXT,
    target         TEXT NOT NULL,
    method         TEXT NOT NULL,
    uri            TEXT NOT NULL,
    version        TEXT NOT NULL,
    req_headers    BLOB NOT NULL,
    req_body       BLOB NOT NULL,
    req_body_size  INTEGER NOT NULL,
    status         INTEGER,
    resp_headers   BLOB,
    resp_body      BLOB,
    resp_body_size INTEGER,
    ttfb_us        INTEGER,
    duration_us    INTEGER NOT NULL,
    error          TEXT,
    replay_of      TEXT,
    verdict        TEXT,
    queued_id      TEXT -- the relay's id of a queued request (`x-hooktap-queued-id`)
);
CREATE INDEX IF NOT EXISTS exchanges_by_queued_id ON exchanges (queued_id)
    WHERE queued_id IS NOT NULL;
";

/// From schema 1 to 2: the relay's id of each queued request, so a second delivery of
/// one is recognised.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE exchanges ADD COLUMN queued_id TEXT;
CREATE INDEX IF NOT EXISTS exchanges_by_queued_id ON exchanges (queued_id)
    WHERE queued_id IS NOT NULL;
";

/// The schema version of the store behind `conn`, refusing one this build cannot read.
fn readable_version(conn: &Connection) -> anyhow::Result<i64> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .context("the file is not a hooktap store (not an SQLite database)")?;
    if version > SCHEMA_VERSION {
        bail!(
            "this store was written by a newer hooktap (schema {version}, this build reads {SCHEMA_VERSION}); \
             upgrade hooktap or pass another --store"
        );
    }
    Ok(version)
}

/// Prepares a connection: pragmas, schema creation or version check.
pub fn prepare(conn: &Connection, in_memory: bool) -> anyhow::Result<()> {
    let version = readable_version(conn)?;
    if !in_memory {
        if version == 0 {
            // A new file: 16 KiB pages hold about ten 1 KiB webhooks each, so a record
            // costs fewer page writes, WAL frames and checksums than with 4 KiB pages (the
            // writer's CPU per record fell by about 15% in `cargo bench --bench store`).
            // It must be set before WAL mode writes the file's header.
            conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        }
        // WAL lets `hooktap requests` read while `listen` writes; NORMAL sync is durable
        // across application crashes, which is what a capture history needs.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    if version < SCHEMA_VERSION {
        let tx = conn.unchecked_transaction()?;
        if version == 0 {
            tx.execute_batch(SCHEMA)?;
        }
        if version == 1 {
            tx.execute_batch(MIGRATE_1_TO_2)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
    }
    Ok(())
}

/// Checks a connection opened read-only: a hooktap store of a version this build reads.
pub fn prepare_read(conn: &Connection) -> anyhow::Result<()> {
    if readable_version(conn)? == 0 {
        bail!("the file is not a hooktap store (it has no hooktap schema)");
    }
    Ok(())
}

/// The statement [`insert`] runs: take it once per transaction, not once per record.
pub fn insert_statement(conn: &Connection) -> rusqlite::Result<CachedStatement<'_>> {
    conn.prepare_cached(
        "INSERT INTO exchanges (id, received_at_us, source, public_url, target, method, uri,
            version, req_headers, req_body, req_body_size, status, resp_headers, resp_body,
            resp_body_size, ttfb_us, duration_us, error, replay_of, verdict, queued_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
            ?21)",
    )
}

/// Inserts one exchange with [`insert_statement`] (an id already taken is refused), with
/// the relay's id of the queued request it records, if any; gives the bytes its bodies
/// and headers take in the store.
pub fn insert(
    stmt: &mut Statement<'_>,
    ex: &Exchange,
    queued_id: Option<&str>,
) -> rusqlite::Result<u64> {
    let resp = ex.response.as_ref();
    let req_headers = encode_headers(&ex.request.headers);
    let resp_headers = resp.map(|r| encode_headers(&r.headers));
    let bytes = req_headers.len()
        + ex.request.body.bytes.len()
        + resp.map_or(0, |r| r.body.bytes.len())
        + resp_headers.as_ref().map_or(0, Vec::len);
    stmt.execute(params![
        ex.id.to_u64().map(|n| n as i64),
        ex.received_at_us,
        ex.source.as_str(),
        ex.public_url,
        ex.target,
        ex.request.method,
        ex.request.uri,
        ex.request.version,
        req_headers,
        ex.request.body.bytes,
        ex.request.body.size as i64,
        resp.map(|r| r.status),
        resp_headers,
        resp.map(|r| &r.body.bytes),
        resp.map(|r| r.body.size as i64),
        ex.ttfb_us,
        ex.duration_us,
        ex.error,
        ex.replay_of.as_ref().map(|id| id.as_str()),
        ex.verdict
            .as_ref()
            .map(|v| serde_json::to_string(v).expect("a verdict always serialises")),
        queued_id,
    ])?;
    Ok(bytes as u64)
}

/// Columns for [`from_row`], in order.
pub const COLUMNS: &str = "id, received_at_us, source, public_url, target, method, uri, version,
    req_headers, req_body, req_body_size, status, resp_headers, resp_body, resp_body_size,
    ttfb_us, duration_us, error, replay_of, verdict";

/// Builds an exchange from a row selected with [`COLUMNS`].
pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Exchange> {
    let source: String = row.get(2)?;
    let status: Option<u16> = row.get(11)?;
    let response = match status {
        Some(status) => Some(RecordedResponse {
            status,
            headers: decode_headers(&row.get::<_, Option<Vec<u8>>>(12)?.unwrap_or_default()),
            body: Body {
                bytes: row.get::<_, Option<Vec<u8>>>(13)?.unwrap_or_default(),
                size: row.get::<_, Option<i64>>(14)?.unwrap_or(0) as u64,
            },
        }),
        None => None,
    };
    let verdict: Option<String> = row.get(19)?;
    Ok(Exchange {
        id: ExchangeId::from_u64(row.get::<_, i64>(0)? as u64),
        received_at_us: row.get(1)?,
        source: Source::parse(&source).unwrap_or(Source::Local),
        public_url: row.get(3)?,
        target: row.get(4)?,
        request: RecordedRequest {
            method: row.get(5)?,
            uri: row.get(6)?,
            version: row.get(7)?,
            headers: decode_headers(&row.get::<_, Vec<u8>>(8)?),
            body: Body {
                bytes: row.get(9)?,
                size: row.get::<_, i64>(10)? as u64,
            },
        },
        response,
        ttfb_us: row.get(15)?,
        duration_us: row.get(16)?,
        error: row.get(17)?,
        replay_of: row.get::<_, Option<String>>(18)?.map(ExchangeId),
        verdict: verdict.and_then(|v: String| serde_json::from_str::<Verdict>(&v).ok()),
    })
}

/// Headers as length-prefixed name/value pairs: exact bytes, order and duplicates kept.
pub fn encode_headers(headers: &[Header]) -> Vec<u8> {
    let mut out = Vec::with_capacity(headers.iter().map(|(n, v)| n.len() + v.len() + 8).sum());
    for (name, value) in headers {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
    }
    out
}

/// The inverse of [`encode_headers`]; a damaged tail is ignored.
pub fn decode_headers(mut data: &[u8]) -> Vec<Header> {
    fn take<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(data.get(..4)?.try_into().ok()?) as usize;
        let chunk = data.get(4..4 + len)?;
        *data = &data[4 + len..];
        Some(chunk)
    }
    let mut headers = Vec::new();
    while !data.is_empty() {
        let (Some(name), Some(value)) = (take(&mut data), take(&mut data)) else {
            break;
        };
        headers.push((String::from_utf8_lossy(name).into_owned(), value.to_vec()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_store_file_has_large_pages_and_an_old_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |conn: &Connection| -> i64 {
            conn.query_row("PRAGMA page_size", [], |r| r.get(0))
                .unwrap()
        };
        let new = Connection::open(dir.path().join("new.db")).unwrap();
        prepare(&new, false).unwrap();
        assert_eq!(page_size(&new), PAGE_SIZE);

        let old_path = dir.path().join("old.db");
        let old = Connection::open(&old_path).unwrap();
        old.pragma_update(None, "page_size", 4096).unwrap();
        old.pragma_update(None, "journal_mode", "WAL").unwrap();
        old.execute_batch(SCHEMA).unwrap();
        old.pragma_update(None, "user_version", SCHEMA_VERSION)
            .unwrap();
        drop(old);
        let reopened = Connection::open(&old_path).unwrap();
        prepare(&reopened, false).unwrap();
        assert_eq!(page_size(&reopened), 4096);
    }

    #[test]
    fn a_schema_1_store_gains_the_queued_id_and_keeps_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let v1 = Connection::open(&path).unwrap();
        let table = SCHEMA[..SCHEMA.find(",\n    queued_id").unwrap()].to_string() + "\n);";
        v1.execute_batch(&table).unwrap();
        v1.pragma_update(None, "user_version", 1).unwrap();
        v1.execute(
            "INSERT INTO exchanges (id, received_at_us, source, target, method, uri, version,
                 req_headers, req_body, req_body_size, duration_us)
             VALUES (1, 1, 'local', 't', 'GET', '/old', 'HTTP/1.1', x'', x'', 0, 0)",
            [],
        )
        .unwrap();
        drop(v1);
        let conn = Connection::open(&path).unwrap();
        prepare(&conn, false).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 2);
        let (uri, queued): (String, Option<String>) = conn
            .query_row("SELECT uri, queued_id FROM exchanges", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((uri.as_str(), queued), ("/old", None));
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT id FROM exchanges WHERE queued_id = 'a-1'",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("exchanges_by_queued_id"), "{plan}");
    }

    #[test]
    fn headers_round_trip_with_duplicates_and_binary_values() {
        let headers = vec![
            ("x-a".to_string(), b"1".to_vec()),
            ("x-b".to_string(), vec![0xff, 0x00, b'z']),
            ("x-a".to_string(), b"".to_vec()),
        ];
        assert_eq!(decode_headers(&encode_headers(&headers)), headers);
    }
}
