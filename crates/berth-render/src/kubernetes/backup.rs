//! Scheduled backups of data stores: a CronJob per store with `backup:`, writing
//! into a volume claim of its own the backups `berth backup` writes, manifest
//! and all, and keeping what `retention` and `keep_for` say. Where the
//! environment keeps its backups in an object store, a second container sends
//! each whole backup there as `berth backup` does, and retention counts what
//! the bucket holds.

use berth_core::model::{Backup, CENSUS_FILE, DataStore, ObjectStore, Service};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, SecretKeySelector,
    SecurityContext, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// The environment's object store for backups, and the Secret that lets the
/// scheduled backups into it.
pub struct Bucket<'a> {
    pub store: &'a ObjectStore,
    pub secret: String,
}

/// The image the scheduled backups send to an object store with.
const UPLOAD_IMAGE: &str = "amazon/aws-cli:2.22.35";

/// The CronJob and the claim it writes into, for a store with `backup:`.
pub fn backup(
    name: &str,
    service: &Service,
    metadata: &ObjectMeta,
    host: &str,
    environment: &str,
    secrets: Vec<EnvVar>,
    bucket: Option<&Bucket>,
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
    let of = Scheduled {
        environment,
        service: name,
        store,
        host,
        port: port.0,
    };
    let script = scheduled(&of, backup, "/backup");
    let mount = VolumeMount {
        name: "backups".into(),
        mount_path: "/backup".into(),
        ..VolumeMount::default()
    };
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
        volume_mounts: Some(vec![mount.clone()]),
        ..Container::default()
    };
    // With a bucket the backup is taken first, and then sent.
    let (init_containers, containers) = match bucket {
        None => (None, vec![container]),
        Some(bucket) => (
            Some(vec![container]),
            vec![Container {
                name: "upload".into(),
                image: Some(UPLOAD_IMAGE.into()),
                command: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    uploaded(&of, backup, bucket.store, "/backup"),
                ]),
                env: Some(upload_env(bucket)),
                volume_mounts: Some(vec![mount]),
                ..Container::default()
            }],
        ),
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
                            init_containers,
                            containers,
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

/// The store a scheduled backup is of, and where it answers.
pub struct Scheduled<'a> {
    pub environment: &'a str,
    pub service: &'a str,
    pub store: &'a DataStore,
    pub host: &'a str,
    pub port: u16,
}

/// The CronJob's shell script: what `berth backup` makes, in `backups`. Each
/// backup is taken into `ID.partial/`, given the manifest `berth backup`
/// writes (each file's size and SHA-256, what the store holds) and renamed
/// into place only when whole, so that `berth restore --from ID` takes one
/// copied out of the claim; then what `retention` and `keep_for` let go goes.
pub fn scheduled(of: &Scheduled, backup: &Backup, backups: &str) -> String {
    let partial = "\"$dir.partial\"";
    let manifest = MANIFEST
        .replace("ENVIRONMENT", of.environment)
        .replace("SERVICE", of.service)
        .replace("KIND", &of.store.kind.to_string());
    let mut script = format!(
        "set -e; cd {backups}; rm -rf ./*.partial; id=$(date -u +%Y%m%d-%H%M%S); dir={backups}/$id; taken=$(date -u +%Y-%m-%dT%H:%M:%SZ); {dump}; census=$({census} | awk '{AWK}'); rm -f {partial}/{CENSUS_FILE}; (cd {partial} && {manifest}); mv {partial} \"$dir\"; ls -1t | tail -n +{keep} | xargs -r rm -rf",
        dump = (of.store.dump)(of.host, of.port, partial),
        census = if of.store.census_in_dump {
            format!("cat {partial}/{CENSUS_FILE}")
        } else {
            (of.store.census)(of.host, of.port)
        },
        keep = backup.retention.max(1) + 1,
    );
    if let Some(keep_for) = backup.keep_for {
        let minutes = keep_for.0.as_secs().div_ceil(60);
        script += &format!(
            "; ls -1t | tail -n +2 | while read -r old; do find \"./$old\" -maxdepth 0 -mmin +{minutes} -exec rm -rf {{}} +; done"
        );
    }
    script
}

/// The script that sends each whole backup in `backups` to the bucket (its
/// files, then its manifest, then it goes from the claim), then lets go of
/// the bucket's backups `retention` and `keep_for` let go, manifest first:
/// what `berth backup` does with an object store, with the AWS CLI.
pub fn uploaded(of: &Scheduled, backup: &Backup, store: &ObjectStore, backups: &str) -> String {
    let mut to = format!("s3://{}", store.to.bucket);
    for part in [store.to.prefix.as_str(), of.environment, of.service] {
        if !part.is_empty() {
            to = format!("{to}/{part}");
        }
    }
    let endpoint = store
        .endpoint
        .as_ref()
        .map_or(String::new(), |e| format!(" --endpoint-url {e}"));
    let keep_for = backup.keep_for.map_or(String::new(), |keep_for| {
        format!(
            r#"; cutoff=$(date -u -d "@$(( $(date +%s) - {} ))" +%Y%m%d-%H%M%S); echo "$ids" | sed '$d' | while read -r id; do if [ -n "$id" ] && [ "$id" \< "$cutoff" ]; then gone "$id"; fi; done"#,
            keep_for.0.as_secs()
        )
    });
    format!(
        r#"set -e; aws configure set default.s3.addressing_style {style}; s3() {{ aws{endpoint} s3 "$@"; }}; to='{to}'; cd {backups}; for id in *; do case "$id" in *.partial) continue;; esac; [ -f "$id/manifest.json" ] || continue; s3 cp --quiet --recursive --exclude manifest.json "$id" "$to/$id/"; s3 cp --quiet "$id/manifest.json" "$to/$id/manifest.json"; rm -rf "$id"; done; gone() {{ s3 rm --quiet "$to/$1/manifest.json"; s3 rm --quiet --recursive "$to/$1/"; }}; ids=$(s3 ls --recursive "$to/" | awk '{{print $4}}' | sed -n 's|.*/\([^/]*\)/manifest\.json$|\1|p' | sort); echo "$ids" | head -n -{keep} | while read -r id; do if [ -n "$id" ]; then gone "$id"; fi; done{keep_for}"#,
        style = if store.endpoint.is_some() {
            "path"
        } else {
            "virtual"
        },
        keep = backup.retention.max(1),
    )
}

/// The upload's region, and its credentials from the Secret named for them.
fn upload_env(bucket: &Bucket) -> Vec<EnvVar> {
    let from_secret = |key: &str| EnvVar {
        name: key.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: bucket.secret.clone(),
                key: key.to_owned(),
                ..SecretKeySelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    };
    vec![
        EnvVar {
            name: "AWS_REGION".into(),
            value: Some(bucket.store.region()),
            ..EnvVar::default()
        },
        from_secret("AWS_ACCESS_KEY_ID"),
        from_secret("AWS_SECRET_ACCESS_KEY"),
    ]
}

/// `WHAT COUNT` lines as the members of a JSON object.
const AWK: &str = r#"{ n = $NF; sub(/ [^ ]*$/, ""); gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); printf "%s\"%s\":%s", (NR > 1 ? "," : ""), $0, n }"#;

/// The manifest of the files in the current folder, as `berth backup` writes it.
const MANIFEST: &str = r#"files=; for f in *; do [ -f "$f" ] || continue; files="$files${files:+,}{\"name\":\"$f\",\"bytes\":$(wc -c < "$f"),\"sha256\":\"$(sha256sum "$f" | cut -d' ' -f1)\"}"; done; printf '{"id":"%s","environment":"ENVIRONMENT","service":"SERVICE","kind":"KIND","revision":null,"taken_at":"%s","files":[%s],"census":{%s}}\n' "$id" "$taken" "$files" "$census" > manifest.json"#;

/// What the tools log in with: the user the service's environment names, and
/// the password from the secret the service is given it by.
fn tools_env(service: &Service, store: &DataStore, secrets: Vec<EnvVar>) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = store
        .tools_user(service)
        .map(|(variable, user)| EnvVar {
            name: variable.to_owned(),
            value: Some(user),
            ..EnvVar::default()
        })
        .into_iter()
        .collect();
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
