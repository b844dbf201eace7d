//! Queries for the inspector: pages of summaries with their delivery ids, tailing what
//! other processes commit, and text search over headers and bodies in chunks.

use rusqlite::{Connection, params};

use super::query::Summary;
use super::schema::decode_headers;
use crate::exchange::{ExchangeId, Source, delivery_id, format_time};

/// The columns a [`Summary`] is read from, plus the request headers and the start of
/// the body (for the provider's delivery id).
const ROW: &str = "id, received_at_us, source, method, uri, status, duration_us, req_body_size,
    resp_body_size, error, replay_of, verdict, req_headers, substr(req_body, 1, 512),
    length(req_body)";

fn summary(row: &rusqlite::Row<'_>) -> rusqlite::Result<Summary> {
    let source: String = row.get(2)?;
    let received_at_us: i64 = row.get(1)?;
    let verdict: Option<String> = row.get(11)?;
    let headers = decode_headers(&row.get::<_, Vec<u8>>(12)?);
    let body_head: Vec<u8> = row.get::<_, Option<Vec<u8>>>(13)?.unwrap_or_default();
    let request_size = row.get::<_, i64>(7)? as u64;
    let stored: i64 = row.get(14)?;
    Ok(Summary {
        id: ExchangeId::from_u64(row.get::<_, i64>(0)? as u64).0,
        time: format_time(received_at_us),
        received_at_us,
        source: Source::parse(&source).unwrap_or(Source::Local),
        method: row.get(3)?,
        path: row.get(4)?,
        status: row.get(5)?,
        duration_ms: row.get::<_, i64>(6)? as f64 / 1000.0,
        request_size,
        response_size: row.get::<_, Option<i64>>(8)?.map(|s| s as u64),
        error: row.get(9)?,
        replay_of: row.get(10)?,
        verdict: verdict.and_then(|v| serde_json::from_str(&v).ok()),
        delivery_id: delivery_id(&headers, &body_head),
        cut: (stored as u64) < request_size,
    })
}

/// At most `limit` summaries older than `before` (all when `None`), newest first.
pub fn page(conn: &Connection, before: Option<u64>, limit: usize) -> anyhow::Result<Vec<Summary>> {
    let sql = format!("SELECT {ROW} FROM exchanges WHERE id < ?1 ORDER BY id DESC LIMIT ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let before = before.map_or(i64::MAX, |b| b as i64);
    let rows = stmt.query_map(params![before, limit as i64], summary)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The summaries of `ids` that exist, in ascending id order.
pub fn summaries(conn: &Connection, ids: &[u64]) -> anyhow::Result<Vec<Summary>> {
    let sql = format!("SELECT {ROW} FROM exchanges WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(row) = stmt.query_map([*id as i64], summary)?.next() {
            out.push(row?);
        }
    }
    Ok(out)
}

/// Ids at or above `floor`, ascending (a range scan of the primary key).
pub fn ids_from(conn: &Connection, floor: u64) -> anyhow::Result<Vec<u64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM exchanges WHERE id >= ?1 ORDER BY id")?;
    let rows = stmt.query_map([floor as i64], |r| r.get::<_, i64>(0))?;
    Ok(rows
        .map(|r| r.map(|id| id as u64))
        .collect::<Result<_, _>>()?)
}

/// At most `limit` ids below `before`, newest first.
pub fn ids_below(conn: &Connection, before: u64, limit: usize) -> anyhow::Result<Vec<u64>> {
    let mut stmt =
        conn.prepare_cached("SELECT id FROM exchanges WHERE id < ?1 ORDER BY id DESC LIMIT ?2")?;
    let rows = stmt.query_map(
        params![before.min(i64::MAX as u64) as i64, limit as i64],
        |r| r.get::<_, i64>(0),
    )?;
    Ok(rows
        .map(|r| r.map(|id| id as u64))
        .collect::<Result<_, _>>()?)
}

/// How many records the store holds.
pub fn count(conn: &Connection) -> anyhow::Result<u64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM exchanges", [], |r| r.get::<_, i64>(0))? as u64)
}

/// SQLite's `data_version`: it changes when another connection commits.
pub fn data_version(conn: &Connection) -> anyhow::Result<i64> {
    Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
}

/// Ids in `[low, high)` whose path, request headers, request body or response body
/// contain every one of `words` (ASCII case-insensitive), newest first.
pub fn search(
    conn: &Connection,
    words: &[String],
    low: u64,
    high: u64,
) -> anyhow::Result<Vec<u64>> {
    let mut sql = String::from("SELECT id FROM exchanges WHERE id >= ?1 AND id < ?2");
    for i in 0..words.len() {
        let n = i + 3;
        sql.push_str(&format!(
            " AND (instr(lower(uri), ?{n}) OR instr(lower(CAST(req_headers AS TEXT)), ?{n})
               OR instr(lower(CAST(req_body AS TEXT)), ?{n})
               OR instr(lower(CAST(ifnull(resp_body, '') AS TEXT)), ?{n}))"
        ));
    }
    sql.push_str(" ORDER BY id DESC");
    let mut stmt = conn.prepare(&sql)?;
    let mut args: Vec<rusqlite::types::Value> = vec![
        (low as i64).into(),
        (high.min(i64::MAX as u64) as i64).into(),
    ];
    args.extend(words.iter().map(|w| w.to_ascii_lowercase().into()));
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| r.get::<_, i64>(0))?;
    Ok(rows
        .map(|r| r.map(|id| id as u64))
        .collect::<Result<_, _>>()?)
}
