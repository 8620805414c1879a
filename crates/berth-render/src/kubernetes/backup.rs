//! Scheduled backups of data stores: a CronJob per store with `backup:`, writing
//! into a volume claim of its own and keeping what `retention` and `keep_for` say.

use berth_core::model::{DataStore, Service};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, SecurityContext, Volume,
    VolumeMount, VolumeResourceRequirements,
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
    secrets: Vec<EnvVar>,
) -> Option<(PersistentVolumeClaim, CronJob)> {
    let backup = service.backup.as_ref()?;
    let store = service.kind.data_store()?;
    let port = match service.ports.get(store.tools_port) {
        Some(port) => *port,
        None => service.main_port()?.1,
    };
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
    // Take one into a folder of its own, then delete all but the newest
    // `retention`, and those older than `keep_for` but the newest.
    let mut script = format!(
        "set -e; dir=/backup/$(date +%Y%m%d-%H%M%S); {}; ls -1t /backup | tail -n +{} | sed 's|^|/backup/|' | xargs -r rm -rf",
        (store.dump)(host, port.0, "\"$dir\""),
        backup.retention.max(1) + 1
    );
    if let Some(keep_for) = backup.keep_for {
        let minutes = keep_for.0.as_secs().div_ceil(60);
        script += &format!(
            "; ls -1t /backup | tail -n +2 | while read -r old; do find \"/backup/$old\" -maxdepth 0 -mmin +{minutes} -exec rm -rf {{}} +; done"
        );
    }
    let container = Container {
        name: "backup".into(),
        image: store
            .tools_image
            .map(str::to_owned)
            .or_else(|| service.image.clone()),
        command: Some(vec!["sh".into(), "-c".into(), script]),
        env: Some(tools_env(service, store, secrets)).filter(|env| !env.is_empty()),
        // A tools image runs as a user of its own, who may not write into the
        // claim a store's image (running as root) would.
        security_context: store.tools_image.map(|_| SecurityContext {
            run_as_user: Some(0),
            ..SecurityContext::default()
        }),
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

/// What the tools log in with: the user the service's environment names, and
/// the password from the secret the service is given it by.
fn tools_env(service: &Service, store: &DataStore, secrets: Vec<EnvVar>) -> Vec<EnvVar> {
    let mut env = Vec::new();
    if let Some((key, variable)) = store.user
        && let Some(user) = service.env.get(key).filter(|u| u.is_literal())
    {
        env.push(EnvVar {
            name: variable.to_owned(),
            value: Some(user.to_string()),
            ..EnvVar::default()
        });
    }
    if let Some((key, variable)) = store.password {
        env.extend(
            secrets
                .into_iter()
                .filter(|secret| secret.name == key)
                .map(|secret| EnvVar {
                    name: variable.to_owned(),
                    ..secret
                }),
        );
    }
    env
}
