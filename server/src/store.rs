//! Persistence: metadata in SQL (SQLite in WAL mode by default, PostgreSQL by URL, both through
//! sqlx's `any` driver, so every statement here is plain SQL both accept) and files written
//! atomically (temporary file, fsync, rename) under the data folder.

use anyhow::Context;
use gridmentor_core::nn::CurvePoint;
use serde::Serialize;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The tables, created when missing. Types every backend reads the same way through `any`:
/// TEXT, BIGINT, DOUBLE PRECISION.
const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS checkpoints (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, env TEXT NOT NULL, net TEXT NOT NULL,
        obs TEXT NOT NULL, actions BIGINT NOT NULL, algo TEXT NOT NULL, frames BIGINT NOT NULL,
        seed TEXT NOT NULL, size BIGINT NOT NULL, uploaded_at TEXT NOT NULL,
        uploaded_ms BIGINT NOT NULL, eval_status TEXT NOT NULL, eval_episodes BIGINT NOT NULL,
        eval_seed TEXT NOT NULL, success_rate DOUBLE PRECISION, mean_return DOUBLE PRECISION,
        mean_steps DOUBLE PRECISION, eval_error TEXT, client TEXT NOT NULL DEFAULT '',
        curve TEXT NOT NULL DEFAULT '', curve_points BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS episodes (
        id TEXT PRIMARY KEY, body TEXT NOT NULL, created_ms BIGINT NOT NULL,
        client TEXT NOT NULL DEFAULT '', size BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS llm_cache (
        key TEXT PRIMARY KEY, backend TEXT NOT NULL, model TEXT NOT NULL, body TEXT NOT NULL,
        created_ms BIGINT NOT NULL, size BIGINT NOT NULL DEFAULT 0)",
];

/// Columns added since the first release: (table, column, its type); added to older databases
/// at start.
const ADDED_COLUMNS: [(&str, &str, &str); 6] = [
    ("checkpoints", "client", "TEXT NOT NULL DEFAULT ''"),
    // The learning curve of the file's header as JSON ('' when it has none; every file stored
    // before these columns had none: format 3 did not exist yet).
    ("checkpoints", "curve", "TEXT NOT NULL DEFAULT ''"),
    ("checkpoints", "curve_points", "BIGINT NOT NULL DEFAULT 0"),
    ("episodes", "client", "TEXT NOT NULL DEFAULT ''"),
    ("episodes", "size", "BIGINT NOT NULL DEFAULT 0"),
    ("llm_cache", "size", "BIGINT NOT NULL DEFAULT 0"),
];

/// The columns of `checkpoints` an [`Entry`] is read from. Named, not `*`: a pooled SQLite
/// connection that had not yet seen an [`ADDED_COLUMNS`] `ALTER` prepared `SELECT *` with the
/// old columns, SQLite re-prepared it with more when it ran, and sqlx's worker panicked on the
/// longer rows (every later query of that connection failed).
const ENTRY_COLUMNS: &str = "id, name, env, net, obs, actions, algo, frames, seed, size, \
    uploaded_at, eval_status, eval_episodes, eval_seed, success_rate, mean_return, mean_steps, \
    eval_error, curve, curve_points";

/// Indexes, created after the columns they cover.
const INDEXES: [&str; 5] = [
    "CREATE INDEX IF NOT EXISTS checkpoints_env ON checkpoints (env, uploaded_ms)",
    "CREATE INDEX IF NOT EXISTS checkpoints_eval ON checkpoints (eval_status, uploaded_ms)",
    "CREATE INDEX IF NOT EXISTS checkpoints_client ON checkpoints (client)",
    "CREATE INDEX IF NOT EXISTS episodes_client ON episodes (client)",
    "CREATE INDEX IF NOT EXISTS llm_cache_age ON llm_cache (created_ms)",
];

/// Where a checkpoint's held-out evaluation stands.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalState {
    Pending,
    Running,
    Done {
        success_rate: f64,
        mean_return: f64,
        mean_steps: f64,
    },
    Failed(String),
}

impl EvalState {
    pub fn status(&self) -> &'static str {
        match self {
            EvalState::Pending => "pending",
            EvalState::Running => "running",
            EvalState::Done { .. } => "done",
            EvalState::Failed(_) => "failed",
        }
    }
}

/// A stored checkpoint, as the store keeps it and the API shows it (serde: the JSON of
/// `/api/checkpoints` and the leaderboard).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: String,
    pub name: String,
    pub env: String,
    pub net: String,
    pub obs: String,
    pub actions: u64,
    pub algo: String,
    pub frames: u64,
    pub seed: String,
    pub size: u64,
    pub uploaded_at: String,
    pub eval_episodes: u64,
    pub eval_seed: String,
    pub eval: EvalState,
    /// The learning curve's points in the file (0: none recorded).
    pub curve_points: u64,
    /// The learning curve itself: read for one entry (`/meta`), not for lists, whose entries
    /// would otherwise grow by up to 256 points each.
    pub curve: Option<Vec<CurvePoint>>,
}

impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("Entry", 14)?;
        m.serialize_field("id", &self.id)?;
        m.serialize_field("name", &self.name)?;
        m.serialize_field("env", &self.env)?;
        m.serialize_field("net", &self.net)?;
        m.serialize_field("obs", &self.obs)?;
        m.serialize_field("actions", &self.actions)?;
        m.serialize_field("algo", &self.algo)?;
        m.serialize_field("frames", &self.frames)?;
        m.serialize_field("seed", &self.seed)?;
        m.serialize_field("size", &self.size)?;
        m.serialize_field("uploaded_at", &self.uploaded_at)?;
        m.serialize_field("eval", &self.eval_json())?;
        m.serialize_field("curve_points", &self.curve_points)?;
        if let Some(curve) = &self.curve {
            m.serialize_field("curve", curve)?;
        }
        m.end()
    }
}

/// The `eval` object: status, the held-out episodes and first seed, then the figures when done
/// or the reason when failed.
#[derive(Serialize)]
struct EvalJson<'a> {
    status: &'static str,
    episodes: u64,
    seed: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    success_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mean_return: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mean_steps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl Entry {
    fn eval_json(&self) -> EvalJson<'_> {
        let mut j = EvalJson {
            status: self.eval.status(),
            episodes: self.eval_episodes,
            seed: &self.eval_seed,
            success_rate: None,
            mean_return: None,
            mean_steps: None,
            error: None,
        };
        match &self.eval {
            EvalState::Done {
                success_rate,
                mean_return,
                mean_steps,
            } => {
                j.success_rate = Some(*success_rate);
                j.mean_return = Some(*mean_return);
                j.mean_steps = Some(*mean_steps);
            }
            EvalState::Failed(e) => j.error = Some(e),
            _ => {}
        }
        j
    }
}

/// What one client has stored in a table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    pub count: u64,
    pub bytes: u64,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `2026-11-22T03:00:00Z` for a time in milliseconds since 1970 (UTC).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A temporary file name no other writer in this process (a counter) nor another process (the
/// pid, a random part) uses.
fn temp_name(final_name: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // RandomState's keys are random per process (and per thread); mixing in the counter and the
    // time gives a fresh 64-bit value each call.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    h.write_i64(now_ms());
    format!(
        "{final_name}.{}.{n}.{:016x}.part",
        std::process::id(),
        h.finish()
    )
}

/// Write `bytes` to `path` so that a reader sees the whole file or none of it: a temporary file
/// in `tmp` (same file system) with a name of its own (created with `create_new`, so two
/// writers never share one), flushed to disk, then renamed over `path`.
pub fn write_atomic(tmp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let final_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let (tmp_path, mut f) = {
        let mut tries = 0;
        loop {
            let p = tmp.join(temp_name(final_name));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)
            {
                Ok(f) => break (p, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 8 => {
                    tries += 1;
                }
                Err(e) => return Err(e),
            }
        }
    };
    let result = (|| {
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp_path, path)?;
        if let Some(dir) = path.parent() {
            // The rename itself reaches the disk with the directory.
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp_path);
    }
    result
}

/// The database and the file folders.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    pub checkpoint_dir: PathBuf,
    pub tmp_dir: PathBuf,
}

/// An entry of the database; with its learning curve when `curve`.
fn entry_from_row(r: &AnyRow, curve: bool) -> Result<Entry, sqlx::Error> {
    let status: String = r.try_get("eval_status")?;
    let eval = match status.as_str() {
        "done" => EvalState::Done {
            success_rate: r.try_get::<Option<f64>, _>("success_rate")?.unwrap_or(0.0),
            mean_return: r.try_get::<Option<f64>, _>("mean_return")?.unwrap_or(0.0),
            mean_steps: r.try_get::<Option<f64>, _>("mean_steps")?.unwrap_or(0.0),
        },
        "failed" => EvalState::Failed(
            r.try_get::<Option<String>, _>("eval_error")?
                .unwrap_or_default(),
        ),
        "running" => EvalState::Running,
        _ => EvalState::Pending,
    };
    Ok(Entry {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        env: r.try_get("env")?,
        net: r.try_get("net")?,
        obs: r.try_get("obs")?,
        actions: r.try_get::<i64, _>("actions")? as u64,
        algo: r.try_get("algo")?,
        frames: r.try_get::<i64, _>("frames")? as u64,
        seed: r.try_get("seed")?,
        size: r.try_get::<i64, _>("size")? as u64,
        uploaded_at: r.try_get("uploaded_at")?,
        eval_episodes: r.try_get::<i64, _>("eval_episodes")? as u64,
        eval_seed: r.try_get("eval_seed")?,
        eval,
        curve_points: r.try_get::<i64, _>("curve_points")?.max(0) as u64,
        curve: if curve {
            let text: String = r.try_get("curve")?;
            Some(if text.is_empty() {
                Vec::new()
            } else {
                serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?
            })
        } else {
            None
        },
    })
}

/// The `curve` column of a learning curve.
fn curve_column(curve: &[CurvePoint]) -> String {
    if curve.is_empty() {
        String::new()
    } else {
        serde_json::to_string(curve).unwrap_or_default()
    }
}

impl Store {
    /// Open (and create) the data folder and the database.
    pub async fn open(data: &Path, database_url: &str) -> anyhow::Result<Store> {
        let checkpoint_dir = data.join("checkpoints");
        let tmp_dir = data.join("tmp");
        for d in [&checkpoint_dir, &tmp_dir] {
            std::fs::create_dir_all(d)
                .with_context(|| format!("creating the data folder {}", d.display()))?;
        }
        // Left by uploads that died mid-way: never listed, safe to drop.
        if let Ok(rd) = std::fs::read_dir(&tmp_dir) {
            for e in rd.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        sqlx::any::install_default_drivers();
        let sqlite = database_url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(database_url)
            .await
            .with_context(|| format!("opening the database {}", redact_url(database_url)))?;
        if sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .context("switching SQLite to WAL")?;
        }
        for stmt in SCHEMA {
            sqlx::query(stmt)
                .execute(&pool)
                .await
                .context("creating the tables")?;
        }
        for (table, column, ty) in ADDED_COLUMNS {
            let probe = format!("SELECT {column} FROM {table} WHERE 1 = 0");
            if sqlx::query(&probe).execute(&pool).await.is_err() {
                sqlx::query(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))
                    .execute(&pool)
                    .await
                    .with_context(|| format!("adding {table}.{column}"))?;
            }
        }
        for stmt in INDEXES {
            sqlx::query(stmt)
                .execute(&pool)
                .await
                .context("creating the indexes")?;
        }
        let store = Store {
            pool,
            checkpoint_dir,
            tmp_dir,
        };
        store.remove_orphan_files().await?;
        Ok(store)
    }

    /// Remove checkpoint files without an entry: a server killed between writing a file and
    /// inserting its entry (or deleting the entry and then the file) leaves them. The listing
    /// comes from the entries, so nothing half-written was ever shown.
    async fn remove_orphan_files(&self) -> anyhow::Result<usize> {
        let known: std::collections::HashSet<String> = sqlx::query("SELECT id FROM checkpoints")
            .fetch_all(&self.pool)
            .await
            .context("listing the checkpoints")?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let mut removed = 0;
        let rd = std::fs::read_dir(&self.checkpoint_dir)
            .with_context(|| format!("reading {}", self.checkpoint_dir.display()))?;
        for e in rd.flatten() {
            let path = e.path();
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".ckpt"))
            else {
                continue;
            };
            if !known.contains(id) && std::fs::remove_file(&path).is_ok() {
                tracing::info!("removed {}: no checkpoint entry names it", path.display());
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// `PRAGMA journal_mode` on SQLite, for checks.
    pub async fn journal_mode(&self) -> Result<String, sqlx::Error> {
        sqlx::query("PRAGMA journal_mode")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)
    }

    pub fn checkpoint_path(&self, id: &str) -> PathBuf {
        self.checkpoint_dir.join(format!("{id}.ckpt"))
    }

    /// Store the entry (with its learning curve, whatever `e.curve` holds) unless one with its
    /// id exists; true when it was inserted.
    pub async fn insert_checkpoint(
        &self,
        e: &Entry,
        uploaded_ms: i64,
        client: &str,
    ) -> Result<bool, sqlx::Error> {
        let curve = e.curve.as_deref().unwrap_or_default();
        let r = sqlx::query(
            "INSERT INTO checkpoints (id, name, env, net, obs, actions, algo, frames, seed, size,
                uploaded_at, uploaded_ms, eval_status, eval_episodes, eval_seed, client, curve,
                curve_points)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&e.id)
        .bind(&e.name)
        .bind(&e.env)
        .bind(&e.net)
        .bind(&e.obs)
        .bind(e.actions as i64)
        .bind(&e.algo)
        .bind(e.frames as i64)
        .bind(&e.seed)
        .bind(e.size as i64)
        .bind(&e.uploaded_at)
        .bind(uploaded_ms)
        .bind(e.eval.status())
        .bind(e.eval_episodes as i64)
        .bind(&e.eval_seed)
        .bind(client)
        .bind(curve_column(curve))
        .bind(curve.len() as i64)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn checkpoint(&self, id: &str) -> Result<Option<Entry>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM checkpoints WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| entry_from_row(&r, true))
        .transpose()
    }

    /// Newest first.
    pub async fn checkpoints(&self, env: Option<&str>) -> Result<Vec<Entry>, sqlx::Error> {
        let rows = match env {
            Some(env) => {
                sqlx::query(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM checkpoints WHERE env = $1
                     ORDER BY uploaded_ms DESC, id"
                ))
                .bind(env)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM checkpoints ORDER BY uploaded_ms DESC, id"
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(|r| entry_from_row(r, false)).collect()
    }

    /// Evaluated entries of `env`, best success rate then mean return first.
    pub async fn leaderboard(&self, env: &str) -> Result<Vec<Entry>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM checkpoints WHERE env = $1 AND eval_status = 'done'
             ORDER BY success_rate DESC, mean_return DESC, uploaded_ms, id"
        ))
        .bind(env)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| entry_from_row(r, false))
        .collect()
    }

    /// Evaluations a stopped server left running are pending again.
    pub async fn requeue_running(&self) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE checkpoints SET eval_status = 'pending' WHERE eval_status = 'running'")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The oldest upload waiting for its evaluation.
    pub async fn next_pending(&self) -> Result<Option<String>, sqlx::Error> {
        sqlx::query(
            "SELECT id FROM checkpoints WHERE eval_status = 'pending'
             ORDER BY uploaded_ms, id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()
    }

    /// Evaluations waiting or running, of `client`'s uploads or of all.
    pub async fn evaluations_waiting(&self, client: Option<&str>) -> Result<u64, sqlx::Error> {
        let q = match client {
            Some(c) => sqlx::query(
                "SELECT COUNT(*) AS n FROM checkpoints
                 WHERE eval_status IN ('pending', 'running') AND client = $1",
            )
            .bind(c),
            None => sqlx::query(
                "SELECT COUNT(*) AS n FROM checkpoints WHERE eval_status IN ('pending', 'running')",
            ),
        };
        Ok(q.fetch_one(&self.pool)
            .await?
            .try_get::<i64, _>("n")?
            .max(0) as u64)
    }

    pub async fn set_eval(&self, id: &str, eval: &EvalState) -> Result<(), sqlx::Error> {
        let (sr, mr, ms, err) = match eval {
            EvalState::Done {
                success_rate,
                mean_return,
                mean_steps,
            } => (
                Some(*success_rate),
                Some(*mean_return),
                Some(*mean_steps),
                None,
            ),
            EvalState::Failed(e) => (None, None, None, Some(e.clone())),
            _ => (None, None, None, None),
        };
        sqlx::query(
            "UPDATE checkpoints SET eval_status = $1, success_rate = $2, mean_return = $3,
                mean_steps = $4, eval_error = $5 WHERE id = $6",
        )
        .bind(eval.status())
        .bind(sr)
        .bind(mr)
        .bind(ms)
        .bind(err)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Remove the entry, then its file; true when there was one.
    pub async fn delete_checkpoint(&self, id: &str) -> Result<bool, sqlx::Error> {
        let r = sqlx::query("DELETE FROM checkpoints WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        if let Err(e) = std::fs::remove_file(self.checkpoint_path(id)) {
            tracing::warn!("checkpoint {id}: entry deleted, file not: {e}");
        }
        Ok(true)
    }

    /// How many checkpoints (`checkpoints`) or episodes (`episodes`) `client` has stored, and
    /// their bytes.
    pub async fn stored_by(&self, table: Table, client: &str) -> Result<Stored, sqlx::Error> {
        let sql = match table {
            Table::Checkpoints => {
                "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes FROM checkpoints WHERE client = $1"
            }
            Table::Episodes => {
                "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes FROM episodes WHERE client = $1"
            }
        };
        let r = sqlx::query(sql).bind(client).fetch_one(&self.pool).await?;
        Ok(Stored {
            count: r.try_get::<i64, _>("n")?.max(0) as u64,
            bytes: sum(&r, "bytes")?,
        })
    }

    /// Store an episode record unless its id exists; true when it was inserted.
    pub async fn insert_episode(
        &self,
        id: &str,
        body: &str,
        client: &str,
    ) -> Result<bool, sqlx::Error> {
        let r = sqlx::query(
            "INSERT INTO episodes (id, body, created_ms, client, size) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(body)
        .bind(now_ms())
        .bind(client)
        .bind(body.len() as i64)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn episode(&self, id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query("SELECT body FROM episodes WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("body"))
            .transpose()
    }

    /// True when there was one.
    pub async fn delete_episode(&self, id: &str) -> Result<bool, sqlx::Error> {
        let r = sqlx::query("DELETE FROM episodes WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn cache_get(&self, key: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query("SELECT body FROM llm_cache WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("body"))
            .transpose()
    }

    /// Store an answer unless its key is there; true when it was inserted.
    pub async fn cache_put(
        &self,
        key: &str,
        backend: &str,
        model: &str,
        body: &str,
    ) -> Result<bool, sqlx::Error> {
        let r = sqlx::query(
            "INSERT INTO llm_cache (key, backend, model, body, created_ms, size)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(backend)
        .bind(model)
        .bind(body)
        .bind(now_ms())
        .bind(body.len() as i64)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Entries and bytes of the cache.
    pub async fn cache_stats(&self) -> Result<Stored, sqlx::Error> {
        // `size` is 0 in rows written before it existed: their body's length stands in.
        let r = sqlx::query(
            "SELECT COUNT(*) AS n,
                CAST(COALESCE(SUM(CASE WHEN size > 0 THEN size ELSE LENGTH(body) END), 0) AS BIGINT)
                AS bytes
             FROM llm_cache",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Stored {
            count: r.try_get::<i64, _>("n")?.max(0) as u64,
            bytes: sum(&r, "bytes")?,
        })
    }

    pub async fn cache_len(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) AS n FROM llm_cache")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")
    }

    /// Remove the `n` oldest entries; the bytes they held.
    pub async fn cache_evict_oldest(&self, n: u64) -> Result<Stored, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT key, CAST(CASE WHEN size > 0 THEN size ELSE LENGTH(body) END AS BIGINT) AS bytes
             FROM llm_cache ORDER BY created_ms, key LIMIT $1",
        )
        .bind(n.min(i64::MAX as u64) as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut gone = Stored::default();
        for r in &rows {
            let key: String = r.try_get("key")?;
            let d = sqlx::query("DELETE FROM llm_cache WHERE key = $1")
                .bind(&key)
                .execute(&self.pool)
                .await?;
            if d.rows_affected() > 0 {
                gone.count += 1;
                gone.bytes += r.try_get::<i64, _>("bytes")?.max(0) as u64;
            }
        }
        Ok(gone)
    }

    /// Empty the cache; how many entries it held.
    pub async fn cache_clear(&self) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query("DELETE FROM llm_cache")
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

/// The tables a client's storage is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Checkpoints,
    Episodes,
}

/// A non-negative BIGINT column.
fn sum(r: &AnyRow, col: &str) -> Result<u64, sqlx::Error> {
    Ok(r.try_get::<i64, _>(col)?.max(0) as u64)
}

/// A URL without its secrets, for logs and messages: the password of `user:pass@` (all of a
/// userinfo without a colon: it may be a key), and the values of the query string.
pub fn redact_url(url: &str) -> String {
    let Some(s) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[s + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rfind('@') {
        Some(at) => match authority[..at].split_once(':') {
            Some((user, _)) => format!("{user}:***{}", &authority[at..]),
            None => format!("***{}", &authority[at..]),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query = query.split('#').next().unwrap_or("");
            let hidden: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) => format!("{k}=***"),
                    None => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", hidden.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{}{authority}{tail}", &url[..s + 3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_316_400_000), "2026-11-22T03:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn hides_database_passwords() {
        assert_eq!(
            redact_url("postgres://me:pw@db/g"),
            "postgres://me:***@db/g"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(
            redact_url("https://sk-live-123@api.x/v1?key=sk-2&v=1#f"),
            "https://***@api.x/v1?key=***&v=***"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/v1"
        );
        assert_eq!(redact_url("http://h/p@q"), "http://h/p@q");
    }

    #[test]
    fn concurrent_atomic_writes_of_one_file_all_succeed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("same.bin");
        std::thread::scope(|s| {
            for i in 0..16u8 {
                let (tmp, p) = (d.path(), &p);
                s.spawn(move || {
                    for _ in 0..20 {
                        write_atomic(tmp, p, &[i; 64]).unwrap();
                    }
                });
            }
        });
        assert_eq!(std::fs::read(&p).unwrap().len(), 64);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn atomic_writes_leave_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.bin");
        write_atomic(d.path(), &p, b"abc").unwrap();
        write_atomic(d.path(), &p, b"defg").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"defg");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
