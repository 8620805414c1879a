//! Scheduled backups of data stores: a CronJob per store with `backup:`, writing
//! into a volume claim of its own and keeping the newest `retention` backups.

use berth_core::model::{Kind, Service};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
    PodSpec, PodTemplateSpec, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// The shell command that takes one backup of `kind` at `host` into /backup.
fn dump(kind: Kind, host: &str, port: u16) -> String {
    let stamp = "$(date +%Y%m%d-%H%M%S)";
    match kind {
        Kind::Postgres => {
            format!("pg_dumpall -h {host} -p {port} -U postgres > /backup/{stamp}.sql")
        }
        Kind::Mongodb => {
            format!("mongodump --uri mongodb://{host}:{port} --archive=/backup/{stamp}.archive")
        }
        Kind::Redis => format!("redis-cli -h {host} -p {port} --rdb /backup/{stamp}.rdb"),
        Kind::Rabbitmq => {
            format!("rabbitmqctl -n rabbit@{host} export_definitions /backup/{stamp}.json")
        }
        Kind::Service | Kind::Job => unreachable!("only data stores are backed up"),
    }
}

/// The CronJob and the claim it writes into, for a store with `backup:`.
pub fn backup(
    name: &str,
    service: &Service,
    metadata: &ObjectMeta,
    host: &str,
) -> Option<(PersistentVolumeClaim, CronJob)> {
    let backup = service.backup.as_ref()?;
    let (_, port) = service.main_port()?;
    let backups = format!("{name}-backups");
    let size = service
        .storage
        .map_or_else(|| "1Gi".to_owned(), |s| s.to_string());
    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(backups.clone()),
            ..metadata.clone()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), Quantity(size))])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    };
    // Take one, then delete all but the newest `retention`.
    let script = format!(
        "set -e; {}; ls -1t /backup | tail -n +{} | sed 's|^|/backup/|' | xargs -r rm -f",
        dump(service.kind, host, port.0),
        backup.retention + 1
    );
    let container = Container {
        name: "backup".into(),
        image: service.image.clone(),
        command: Some(vec!["sh".into(), "-c".into(), script]),
        volume_mounts: Some(vec![VolumeMount {
            name: "backups".into(),
            mount_path: "/backup".into(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    let cron_job = CronJob {
        metadata: ObjectMeta {
            name: Some(format!("{name}-backup")),
            ..metadata.clone()
        },
        spec: CronJobSpec {
            schedule: backup.schedule.clone(),
            concurrency_policy: Some("Forbid".into()),
            job_template: JobTemplateSpec {
                spec: Some(JobSpec {
                    template: PodTemplateSpec {
                        spec: Some(PodSpec {
                            containers: vec![container],
                            restart_policy: Some("OnFailure".into()),
                            volumes: Some(vec![Volume {
                                name: "backups".into(),
                                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                                    claim_name: backups,
                                    ..PersistentVolumeClaimVolumeSource::default()
                                }),
                                ..Volume::default()
                            }]),
                            ..PodSpec::default()
                        }),
                        ..PodTemplateSpec::default()
                    },
                    ..JobSpec::default()
                }),
                ..JobTemplateSpec::default()
            },
            ..CronJobSpec::default()
        },
        ..CronJob::default()
    };
    Some((claim, cron_job))
}
