//! Putting back what a failed deployment changed, or one a killed berth left
//! half done, from the object set the last good deployment stored.

use berth_engine::Failure;
use std::collections::BTreeSet;

use berth_engine::history::{Evidence, Outcome, Record};

use crate::apply::apply;
use crate::deletion;
use crate::deploy::{Prepared, Said};
use crate::environment::Environment;
use crate::object_set::ObjectSet;
use crate::owner::describe;
use crate::service::{apply_service, await_service, with_applied};
use crate::strategy;
use crate::timeline::Timeline;

/// Puts back what a failed deployment changed: each service's objects as the
/// last good deployment applied them, or, for a service it added, none.
pub async fn restore(
    environment: &Environment,
    prepared: &Prepared,
    timeline: &Timeline<'_>,
    failure: &Failure,
    done: &[String],
) -> Outcome {
    timeline.say(
        Some(&failure.service),
        format!("failed: {}", failure.message),
        Some(Evidence {
            reason: failure.message.clone(),
            last_lines: failure.last_lines.clone(),
            ..Evidence::default()
        }),
    );
    let previous = ObjectSet::group(prepared.last_applied.clone());
    let mut restored = true;
    for service in done.iter().rev() {
        let result = match previous.services.get(service) {
            Some(objects) => {
                timeline.say(Some(service), "restoring the previous revision", None);
                let progress = |what: &str| (timeline.show)(Said::Progress(service, what));
                let spec = prepared.target.ecosystem.services.get(service);
                match (apply_service(environment, objects).await, spec) {
                    (Ok(applied), Some(spec)) => {
                        let workloads = with_applied(previous.workloads(service), &applied);
                        await_service(environment, &workloads, spec, &progress).await
                    }
                    (Ok(_), None) => Ok(()),
                    (Err(e), _) => Err(Failure::new(service, e)),
                }
            }
            None => {
                timeline.say(
                    Some(service),
                    "removing it: no earlier deployment had it",
                    None,
                );
                deletion::delete(environment, &prepared.objects.services[service])
                    .await
                    .map(drop)
                    .map_err(|e| Failure::new(service, e))
            }
        };
        if let Err(e) = result {
            timeline.say(
                Some(service),
                format!("restore failed: {}", e.message),
                None,
            );
            restored = false;
        }
    }
    match (restored, prepared.last.is_some()) {
        (true, true) => Outcome::RolledBack,
        _ => Outcome::Failed,
    }
}

/// Heals what deployments a killed berth left running had begun: the routes
/// as the last good deployment applied them (a canary's weights gone), the
/// second Deployment and the Service's switch of a canary or blue-green it
/// ran, and each service they changed put back as the last good deployment
/// left it.
pub async fn heal(
    environment: &Environment,
    prepared: &Prepared,
    interrupted: &[Record],
    timeline: &Timeline<'_>,
) {
    let services: BTreeSet<&str> = interrupted
        .iter()
        .flat_map(|r| r.changed.iter().map(String::as_str))
        .collect();
    let numbers: Vec<String> = interrupted.iter().map(|r| r.number.to_string()).collect();
    timeline.say(
        None,
        format!(
            "deployment {} was interrupted; putting back what it had begun to change",
            numbers.join(", ")
        ),
        None,
    );
    let previous = ObjectSet::group(prepared.last_applied.clone());
    // A canary's weights on a route go first, so that no traffic goes to
    // what is put back below.
    for route in previous
        .shared
        .iter()
        .filter(|o| o["kind"] == "HTTPRoute" || o["kind"] == "VirtualService")
    {
        if let Err(e) = apply(&environment.kinds, route, false).await {
            timeline.say(
                None,
                format!("could not put back {}: {e}", describe(route)),
                None,
            );
        }
    }
    for service in services {
        let Some(objects) = previous.services.get(service) else {
            continue;
        };
        if let Some(deployment) = objects.iter().find(|o| o["kind"] == "Deployment") {
            strategy::undo_second(environment, deployment).await;
        }
        let progress = |what: &str| (timeline.show)(Said::Progress(service, what));
        let healed = match (
            apply_service(environment, objects).await,
            prepared.target.ecosystem.services.get(service),
        ) {
            (Ok(applied), Some(spec)) => {
                let workloads = with_applied(previous.workloads(service), &applied);
                await_service(environment, &workloads, spec, &progress).await
            }
            (Ok(_), None) => Ok(()),
            (Err(e), _) => Err(Failure::new(service, e)),
        };
        match healed {
            Ok(()) => timeline.say(
                Some(service),
                "put back as the last good deployment left it",
                None,
            ),
            Err(e) => timeline.say(
                Some(service),
                format!("could not be put back: {}", e.message),
                None,
            ),
        }
    }
}
