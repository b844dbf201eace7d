//! Reading the store: filtered listings without bodies, and lookups by id prefix.

use rusqlite::{Connection, OptionalExtension, params_from_iter, types::Value};
use serde::Serialize;

use super::filter::Filter;
use super::schema;
use crate::exchange::{Exchange, ExchangeId, Source};
use crate::signature::Verdict;

/// One exchange without its bodies: what listings show.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Id.
    pub id: String,
    /// Received time, RFC 3339.
    pub time: String,
    /// Received time, microseconds since the epoch.
    pub received_at_us: i64,
    /// Where it came from.
    pub source: Source,
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Response status, if the app answered.
    pub status: Option<u16>,
    /// Total duration in milliseconds.
    pub duration_ms: f64,
    /// Request body size in bytes.
    pub request_size: u64,
    /// Response body size in bytes.
    pub response_size: Option<u64>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The replayed exchange, for replays.
    pub replay_of: Option<String>,
    /// The signature verdict.
    pub verdict: Option<Verdict>,
    /// The provider's delivery id (`X-GitHub-Delivery`, `webhook-id`, Stripe's event
    /// id…), which a redelivery repeats; read only by the inspector's pages.
    #[serde(skip)]
    pub delivery_id: Option<String>,
    /// The request body was stored cut at the capture limit; read only by the
    /// inspector's pages.
    #[serde(skip)]
    pub cut: bool,
}

/// Why an id lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// No exchange has an id with this prefix.
    #[error("no request with id '{0}': `hooktap requests` lists the ids")]
    NotFound(String),
    /// Several exchanges match.
    #[error("id '{0}' is ambiguous: it matches {1} and more; type more of the id")]
    Ambiguous(String, String),
    /// Not an id at all.
    #[error("'{0}' is not a request id: ids are letters and digits, e.g. 01jd3k9x2mfa")]
    Malformed(String),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] rusqlite::Error),
}

pub fn list(conn: &Connection, filter: &Filter) -> anyhow::Result<Vec<Summary>> {
    let mut sql = String::from(
        "SELECT id, received_at_us, source, method, uri, status, duration_us, req_body_size,
                resp_body_size, error, replay_of, verdict FROM exchanges WHERE 1=1",
    );
    let mut args: Vec<Value> = Vec::new();
    sql.push_str(&filter.sql(&mut args));
    sql.push_str(" ORDER BY id DESC");
    if let Some(limit) = filter.limit {
        sql.push_str(" LIMIT ?");
        args.push(Value::Integer(limit as i64));
    }
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |row| {
        let source: String = row.get(2)?;
        let received_at_us: i64 = row.get(1)?;
        let verdict: Option<String> = row.get(11)?;
        Ok(Summary {
            id: ExchangeId::from_u64(row.get::<_, i64>(0)? as u64).0,
            time: crate::exchange::format_time(received_at_us),
            received_at_us,
            source: Source::parse(&source).unwrap_or(Source::Local),
            method: row.get(3)?,
            path: row.get(4)?,
            status: row.get(5)?,
            duration_ms: row.get::<_, i64>(6)? as f64 / 1000.0,
            request_size: row.get::<_, i64>(7)? as u64,
            response_size: row.get::<_, Option<i64>>(8)?.map(|s| s as u64),
            error: row.get(9)?,
            replay_of: row.get(10)?,
            verdict: verdict.and_then(|v| serde_json::from_str(&v).ok()),
            delivery_id: None,
            cut: false,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, prefix: &str) -> Result<Exchange, LookupError> {
    let prefix = prefix.trim().to_ascii_lowercase();
    let Some((start, end)) = ExchangeId::prefix_range(&prefix) else {
        return Err(LookupError::Malformed(prefix));
    };
    let mut stmt =
        conn.prepare_cached("SELECT id FROM exchanges WHERE id >= ?1 AND id < ?2 LIMIT 3")?;
    let ids: Vec<i64> = stmt
        .query_map([start as i64, end as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    match ids.as_slice() {
        [] => Err(LookupError::NotFound(prefix)),
        [id] => {
            let sql = format!("SELECT {} FROM exchanges WHERE id = ?1", schema::COLUMNS);
            conn.query_row(&sql, [id], schema::from_row)
                .optional()?
                .ok_or(LookupError::NotFound(prefix))
        }
        [a, b, ..] => Err(LookupError::Ambiguous(
            prefix,
            format!(
                "{}, {}",
                ExchangeId::from_u64(*a as u64),
                ExchangeId::from_u64(*b as u64)
            ),
        )),
    }
}
