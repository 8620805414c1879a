//! An environment's deployment history, kept in its cluster as Helm keeps
//! releases: one Secret per deployment, labelled as berth's, holding the record
//! and timeline and the object set it applied, gzipped. Object sets larger than
//! a Secret may hold (1 MiB, the limit helm#6711 ran into) are split over
//! further Secrets. Every engineer and CI job reading the cluster sees the same
//! history.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use berth_engine::history::{Entry, History, Outcome, Record};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::apply::said;
use crate::owner::{ENVIRONMENT, MANAGED_BY, Owner, PART_OF};

const KIND: &str = "berth.dev/history";
const NUMBER: &str = "berth.dev/number";
const OUTCOME: &str = "berth.dev/outcome";
const CHUNKS: &str = "berth.dev/chunks";
const SECRET_TYPE: &str = "berth.dev/history.v1";
/// Well below a Secret's 1 MiB, leaving room for its metadata.
pub const CHUNK: usize = 512 * 1024;

/// What one deployment's Secret says, objects aside.
#[derive(Serialize, Deserialize)]
struct Kept {
    record: Record,
    timeline: Vec<Entry>,
    /// berth's objects the deployment found it no longer had and left in the
    /// cluster (no `--prune`): still berth's to prune later.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    left: Vec<Value>,
}

/// The deployment this berth is writing, as it last wrote it.
type Open = Option<(u64, Secret, Kept)>;

/// The history of one environment, in one namespace of its cluster.
#[derive(Clone)]
pub struct ClusterHistory {
    secrets: Api<Secret>,
    owner: Owner,
    open: Arc<Mutex<Open>>,
}

impl ClusterHistory {
    pub fn new(client: Client, namespace: &str, owner: Owner) -> ClusterHistory {
        ClusterHistory {
            secrets: Api::namespaced(client, namespace),
            owner,
            open: Arc::new(Mutex::new(None)),
        }
    }

    fn name(&self, number: u64) -> String {
        format!("berth.history.{}.{number}", self.owner.environment)
    }

    fn labels(&self, kind: &str, number: u64) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY.to_owned(), "berth".to_owned()),
            (PART_OF.to_owned(), self.owner.ecosystem.clone()),
            (ENVIRONMENT.to_owned(), self.owner.environment.clone()),
            (KIND.to_owned(), kind.to_owned()),
            (NUMBER.to_owned(), number.to_string()),
        ])
    }

    fn selector(&self, kind: &str) -> ListParams {
        ListParams::default().labels(&format!(
            "{MANAGED_BY}=berth,{ENVIRONMENT}={},{KIND}={kind}",
            self.owner.environment
        ))
    }

    async fn records(&self) -> Result<Vec<(Secret, Kept)>, String> {
        let list = self
            .secrets
            .list(&self.selector("record"))
            .await
            .map_err(|e| format!("reading the history from the cluster: {}", said(&e)))?;
        let mut kept: Vec<(Secret, Kept)> = list
            .items
            .into_iter()
            .filter_map(|secret| {
                let data = secret.data.as_ref()?.get("record")?;
                let kept: Kept = serde_json::from_slice(&gunzip(&data.0).ok()?).ok()?;
                Some((secret, kept))
            })
            .collect();
        kept.sort_by_key(|(_, k)| k.record.number);
        Ok(kept)
    }

    /// Stores a new deployment as running, with the objects it applies,
    /// numbered after the `earlier` ones; its number.
    pub async fn begin_with(
        &self,
        record: &Record,
        objects: &[Value],
        earlier: &[Record],
    ) -> Result<u64, String> {
        let number = earlier.iter().map(|r| r.number).max().unwrap_or(0) + 1;
        let mut record = record.clone();
        record.number = number;
        record.outcome = Outcome::Running;
        let chunks = pack(objects);
        for (index, chunk) in chunks.iter().enumerate().skip(1) {
            let secret = self.secret(
                format!("{}.{index}", self.name(number)),
                self.labels("chunk", number),
                BTreeMap::from([("objects".to_owned(), ByteString(chunk.clone()))]),
            );
            self.create(&secret).await?;
        }
        let kept = Kept {
            record,
            timeline: Vec::new(),
            left: Vec::new(),
        };
        let mut labels = self.labels("record", number);
        labels.insert(OUTCOME.to_owned(), outcome_label(Outcome::Running));
        let mut secret = self.secret(
            self.name(number),
            labels,
            BTreeMap::from([
                (
                    "record".to_owned(),
                    ByteString(gzip(&serde_json::to_vec(&kept).map_err(|e| e.to_string())?)),
                ),
                (
                    "objects".to_owned(),
                    ByteString(chunks.first().cloned().unwrap_or_default()),
                ),
            ]),
        );
        secret.metadata.annotations = Some(BTreeMap::from([(
            CHUNKS.to_owned(),
            chunks.len().max(1).to_string(),
        )]));
        let created = self.create(&secret).await?;
        *self.open.lock().expect("history") = Some((number, created, kept));
        Ok(number)
    }

    fn secret(
        &self,
        name: String,
        labels: BTreeMap<String, String>,
        data: BTreeMap<String, ByteString>,
    ) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            type_: Some(SECRET_TYPE.to_owned()),
            data: Some(data),
            ..Secret::default()
        }
    }

    async fn create(&self, secret: &Secret) -> Result<Secret, String> {
        self.secrets
            .create(&PostParams::default(), secret)
            .await
            .map_err(|e| format!("writing the history to the cluster: {}", said(&e)))
    }

    /// Changes one stored deployment: the one this berth writes from what it
    /// last wrote, any other read first; then replaced, its resourceVersion
    /// catching anyone who wrote it meanwhile.
    async fn change(&self, number: u64, change: impl FnOnce(&mut Kept)) -> Result<(), String> {
        let name = self.name(number);
        let open = self.open.lock().expect("history").take();
        let (mut secret, mut kept) = match open {
            Some((open, secret, kept)) if open == number => (secret, kept),
            _ => {
                let secret = self.secrets.get(&name).await.map_err(|e| {
                    format!("reading deployment {number} from the cluster: {}", said(&e))
                })?;
                let kept = secret
                    .data
                    .as_ref()
                    .and_then(|d| d.get("record"))
                    .and_then(|d| gunzip(&d.0).ok())
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                    .ok_or_else(|| {
                        format!("deployment {number}'s record in the cluster cannot be read")
                    })?;
                (secret, kept)
            }
        };
        change(&mut kept);
        secret.data.get_or_insert_with(BTreeMap::new).insert(
            "record".to_owned(),
            ByteString(gzip(&serde_json::to_vec(&kept).map_err(|e| e.to_string())?)),
        );
        secret
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(OUTCOME.to_owned(), outcome_label(kept.record.outcome));
        let replaced = self
            .secrets
            .replace(&name, &PostParams::default(), &secret)
            .await
            .map_err(|e| format!("writing deployment {number} to the cluster: {}", said(&e)))?;
        *self.open.lock().expect("history") = Some((number, replaced, kept));
        Ok(())
    }

    pub async fn append_entries(&self, number: u64, entries: &[Entry]) -> Result<(), String> {
        self.change(number, |kept| kept.timeline.extend_from_slice(entries))
            .await
    }

    pub async fn finish_as(&self, number: u64, outcome: Outcome, ended: i64) -> Result<(), String> {
        self.finish_with(number, &[], &[], outcome, ended).await
    }

    /// The last lines of the timeline, what was left in the cluster, and the
    /// outcome, in one write.
    pub async fn finish_with(
        &self,
        number: u64,
        entries: &[Entry],
        left: &[Value],
        outcome: Outcome,
        ended: i64,
    ) -> Result<(), String> {
        self.change(number, |kept| {
            kept.timeline.extend_from_slice(entries);
            kept.left = left.to_vec();
            kept.record.outcome = outcome;
            kept.record.ended = Some(ended);
        })
        .await
    }

    pub async fn all(&self) -> Result<Vec<Record>, String> {
        Ok(self
            .records()
            .await?
            .into_iter()
            .map(|(_, k)| k.record)
            .collect())
    }

    pub async fn timeline_of(&self, number: u64) -> Result<Vec<Entry>, String> {
        Ok(self
            .records()
            .await?
            .into_iter()
            .find(|(_, k)| k.record.number == number)
            .map(|(_, k)| k.timeline)
            .unwrap_or_default())
    }

    /// The object set deployment `number` applied, its chunks put together.
    pub async fn objects(&self, number: u64) -> Result<Vec<Value>, String> {
        Ok(self.stored(number).await?.0)
    }

    /// What deployment `number` left berth owning in the cluster: the objects
    /// it applied, and those it left there.
    pub async fn stored(&self, number: u64) -> Result<(Vec<Value>, Vec<Value>), String> {
        let main =
            self.secrets.get(&self.name(number)).await.map_err(|e| {
                format!("reading deployment {number} from the cluster: {}", said(&e))
            })?;
        let left = main
            .data
            .as_ref()
            .and_then(|d| d.get("record"))
            .and_then(|d| gunzip(&d.0).ok())
            .and_then(|bytes| serde_json::from_slice::<Kept>(&bytes).ok())
            .map(|kept| kept.left)
            .unwrap_or_default();
        let chunks: usize = main
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(CHUNKS))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let mut packed = chunk_of(&main);
        for index in 1..chunks {
            let part = self
                .secrets
                .get(&format!("{}.{index}", self.name(number)))
                .await
                .map_err(|e| {
                    format!("reading part {index} of deployment {number}: {}", said(&e))
                })?;
            packed.extend(chunk_of(&part));
        }
        let objects = unpack(&packed).map_err(|e| format!("deployment {number}'s objects: {e}"))?;
        Ok((objects, left))
    }

    /// Marks those of `records` still running as interrupted; the caller
    /// holds the lock, so none of them can still be under way.
    pub async fn interrupt(&self, records: &[Record], now: i64) -> Result<Vec<u64>, String> {
        let running: Vec<u64> = records
            .iter()
            .filter(|r| r.outcome == Outcome::Running)
            .map(|r| r.number)
            .collect();
        for number in &running {
            self.finish_as(*number, Outcome::Interrupted, now).await?;
        }
        Ok(running)
    }
}

/// An object set as the Secrets' parts hold it: gzipped JSON, cut in chunks.
fn pack(objects: &[Value]) -> Vec<Vec<u8>> {
    let json = serde_json::to_vec(objects).expect("objects serialize");
    gzip(&json).chunks(CHUNK).map(<[u8]>::to_vec).collect()
}

fn unpack(packed: &[u8]) -> Result<Vec<Value>, String> {
    let bytes = gunzip(packed).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

fn chunk_of(secret: &Secret) -> Vec<u8> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get("objects"))
        .map(|b| b.0.clone())
        .unwrap_or_default()
}

fn outcome_label(outcome: Outcome) -> String {
    outcome.to_string().replace(' ', "-")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// The cluster history for commands that do not run async themselves
/// (`berth history`, `berth dora`): each call runs on a runtime of its own.
pub struct BlockingHistory {
    history: ClusterHistory,
    runtime: tokio::runtime::Runtime,
}

impl BlockingHistory {
    pub fn new(history: ClusterHistory, runtime: tokio::runtime::Runtime) -> BlockingHistory {
        BlockingHistory { history, runtime }
    }
}

impl History for BlockingHistory {
    fn begin(&self, record: &Record) -> Result<u64, String> {
        self.runtime.block_on(async {
            let earlier = self.history.all().await?;
            self.history.begin_with(record, &[], &earlier).await
        })
    }

    fn append(&self, _: &str, number: u64, entry: &Entry) -> Result<(), String> {
        self.runtime.block_on(
            self.history
                .append_entries(number, std::slice::from_ref(entry)),
        )
    }

    fn finish(&self, _: &str, number: u64, outcome: Outcome, ended: i64) -> Result<(), String> {
        self.runtime
            .block_on(self.history.finish_as(number, outcome, ended))
    }

    fn list(&self, _: &str) -> Result<Vec<Record>, String> {
        self.runtime.block_on(self.history.all())
    }

    fn timeline(&self, _: &str, number: u64) -> Result<Vec<Entry>, String> {
        self.runtime.block_on(self.history.timeline_of(number))
    }

    fn interrupt_running(&self, _: &str, now: i64) -> Result<Vec<u64>, String> {
        self.runtime.block_on(async {
            let records = self.history.all().await?;
            self.history.interrupt(&records, now).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_set_larger_than_a_secret_is_split_and_put_together_again() {
        // Data gzip cannot shrink much, as a set of large ConfigMaps would be.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("{state:016x}")
        };
        let objects: Vec<Value> = (0..600)
            .map(|i| {
                serde_json::json!({ "kind": "ConfigMap", "metadata": { "name": format!("c{i}") },
                "data": { "blob": (0..200).map(|_| noise()).collect::<String>() } })
            })
            .collect();
        let chunks = pack(&objects);
        assert!(chunks.len() >= 3, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.len() <= CHUNK));
        assert_eq!(unpack(&chunks.concat()).unwrap(), objects);
        assert_eq!(pack(&[]).len(), 1, "an empty set is one small part");
    }
}
