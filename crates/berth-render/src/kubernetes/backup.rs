//! Scheduled backups of data stores: a CronJob per store with `backup:`, writing
//! into a volume claim of its own and keeping the newest `retention` backups.

use berth_core::model::Service;
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
    PodSpec, PodTemplateSpec, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

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
    let store = service.kind.data_store()?;
    // Take one into a folder of its own, then delete all but the newest `retention`.
    let script = format!(
        "set -e; dir=/backup/$(date +%Y%m%d-%H%M%S); {}; ls -1t /backup | tail -n +{} | sed 's|^|/backup/|' | xargs -r rm -rf",
        (store.dump)(host, port.0, "\"$dir\""),
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
