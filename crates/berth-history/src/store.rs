//! The SQLite store.

use std::path::Path;
use std::sync::Mutex;

use berth_engine::history::{Entry, History, Outcome, Record};
use rusqlite::{Connection, OptionalExtension, params};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deployments (
    environment TEXT NOT NULL,
    number      INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    started     INTEGER NOT NULL,
    ended       INTEGER,
    record      TEXT NOT NULL,
    PRIMARY KEY (environment, number)
);
CREATE TABLE IF NOT EXISTS timeline (
    environment TEXT NOT NULL,
    number      INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    entry       TEXT NOT NULL,
    PRIMARY KEY (environment, number, seq)
);
";

pub struct SqliteHistory {
    connection: Mutex<Connection>,
}

fn sql(e: rusqlite::Error) -> String {
    format!("the history database: {e}")
}

fn outcome_text(outcome: Outcome) -> String {
    serde_json::to_value(outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl SqliteHistory {
    /// Opens (or creates) `.berth/history.db` in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<SqliteHistory, String> {
        std::fs::create_dir_all(state_dir)
            .map_err(|e| format!("cannot create {}: {e}", state_dir.display()))?;
        let path = state_dir.join("history.db");
        let connection = Connection::open(&path).map_err(sql)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        connection.execute_batch(SCHEMA).map_err(sql)?;
        Ok(SqliteHistory {
            connection: Mutex::new(connection),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, String> {
        let mut connection = self.connection.lock().expect("history lock");
        f(&mut connection).map_err(sql)
    }
}

impl History for SqliteHistory {
    fn begin(&self, record: &Record) -> Result<u64, String> {
        self.with(|c| {
            let tx = c.transaction()?;
            let number: u64 = tx.query_row(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM deployments WHERE environment = ?1",
                params![record.environment],
                |row| row.get(0),
            )?;
            let mut record = record.clone();
            record.number = number;
            record.outcome = Outcome::Running;
            tx.execute(
                "INSERT INTO deployments (environment, number, outcome, started, record) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    record.environment,
                    number,
                    outcome_text(Outcome::Running),
                    record.started,
                    serde_json::to_string(&record).expect("a record serializes")
                ],
            )?;
            tx.commit()?;
            Ok(number)
        })
    }

    fn append(&self, environment: &str, number: u64, entry: &Entry) -> Result<(), String> {
        self.with(|c| {
            c.execute(
                "INSERT INTO timeline (environment, number, seq, entry) VALUES (?1, ?2,
                   (SELECT COALESCE(MAX(seq), 0) + 1 FROM timeline WHERE environment = ?1 AND number = ?2), ?3)",
                params![
                    environment,
                    number,
                    serde_json::to_string(entry).expect("an entry serializes")
                ],
            )?;
            Ok(())
        })
    }

    fn finish(
        &self,
        environment: &str,
        number: u64,
        outcome: Outcome,
        ended: i64,
    ) -> Result<(), String> {
        self.with(|c| {
            let tx = c.transaction()?;
            let text: Option<String> = tx
                .query_row(
                    "SELECT record FROM deployments WHERE environment = ?1 AND number = ?2",
                    params![environment, number],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(text) = text
                && let Ok(mut record) = serde_json::from_str::<Record>(&text)
            {
                record.outcome = outcome;
                record.ended = Some(ended);
                tx.execute(
                    "UPDATE deployments SET outcome = ?3, ended = ?4, record = ?5 WHERE environment = ?1 AND number = ?2",
                    params![
                        environment,
                        number,
                        outcome_text(outcome),
                        ended,
                        serde_json::to_string(&record).expect("a record serializes")
                    ],
                )?;
            }
            tx.commit()
        })
    }

    fn list(&self, environment: &str) -> Result<Vec<Record>, String> {
        let texts: Vec<String> = self.with(|c| {
            let mut statement =
                c.prepare("SELECT record FROM deployments WHERE environment = ?1 ORDER BY number")?;
            statement
                .query_map(params![environment], |row| row.get(0))?
                .collect()
        })?;
        texts
            .iter()
            .map(|text| serde_json::from_str(text).map_err(|e| format!("a damaged record: {e}")))
            .collect()
    }

    fn timeline(&self, environment: &str, number: u64) -> Result<Vec<Entry>, String> {
        let texts: Vec<String> = self.with(|c| {
            let mut statement = c.prepare(
                "SELECT entry FROM timeline WHERE environment = ?1 AND number = ?2 ORDER BY seq",
            )?;
            statement
                .query_map(params![environment, number], |row| row.get(0))?
                .collect()
        })?;
        texts
            .iter()
            .map(|text| serde_json::from_str(text).map_err(|e| format!("a damaged entry: {e}")))
            .collect()
    }

    fn interrupt_running(&self, environment: &str, now: i64) -> Result<Vec<u64>, String> {
        let running: Vec<u64> = self.with(|c| {
            let mut statement = c.prepare(
                "SELECT number FROM deployments WHERE environment = ?1 AND outcome = 'running'",
            )?;
            statement
                .query_map(params![environment], |row| row.get(0))?
                .collect()
        })?;
        for number in &running {
            self.finish(environment, *number, Outcome::Interrupted, now)?;
        }
        Ok(running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_core::revision::Revision;
    use berth_engine::history::Trigger;

    fn record(environment: &str) -> Record {
        Record {
            number: 0,
            environment: environment.to_owned(),
            trigger: Trigger::Deploy,
            revision: Revision("abc".into()),
            previous: None,
            services: indexmap::IndexMap::new(),
            changed: vec!["api".into()],
            source: "name: x".into(),
            user: "me".into(),
            commit: None,
            commit_time: None,
            reason: None,
            started: 1,
            ended: None,
            outcome: Outcome::Running,
        }
    }

    #[test]
    fn records_number_per_environment_and_survive_a_reopen() {
        let dir = std::env::temp_dir().join(format!("berth-history-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let history = SqliteHistory::open(&dir).unwrap();
            assert_eq!(history.begin(&record("local")).unwrap(), 1);
            assert_eq!(history.begin(&record("local")).unwrap(), 2);
            assert_eq!(history.begin(&record("prod")).unwrap(), 1);
            let entry = Entry {
                at: 5,
                service: Some("api".into()),
                what: "run 1 new".into(),
                evidence: None,
            };
            history.append("local", 1, &entry).unwrap();
            history.append("local", 1, &entry).unwrap();
            history.finish("local", 1, Outcome::Succeeded, 9).unwrap();
        }
        let history = SqliteHistory::open(&dir).unwrap();
        let local = history.list("local").unwrap();
        assert_eq!(local.len(), 2);
        assert_eq!(local[0].outcome, Outcome::Succeeded);
        assert_eq!(local[0].ended, Some(9));
        assert_eq!(history.timeline("local", 1).unwrap().len(), 2);
        assert_eq!(history.interrupt_running("local", 10).unwrap(), vec![2]);
        assert_eq!(
            history.list("local").unwrap()[1].outcome,
            Outcome::Interrupted
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
