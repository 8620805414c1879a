//! The registry of checks. Each module holds one rule.

mod anti_affinity;
mod autoscale_bounds;
mod backup_tools_port;
mod backups;
mod health_endpoint;
mod image_pinned;
mod liveness_differs;
mod pod_disruption_budget;
mod port_range;
mod readiness_probe;
mod replicas_ha;
mod resource_limits;
mod resource_requests;
mod secrets_not_inline;

pub use secrets_not_inline::looks_secret;

use super::Rule;

/// Declares a rule: its id, default level, one-line description and fix hint, and
/// the function that checks a [`Subject`](super::Subject).
macro_rules! rule {
    (
        $(#[$doc:meta])*
        $name:ident { id: $id:literal, level: $level:ident, description: $description:literal, hint: $hint:literal, }
        fn check($subject:ident) -> Outcome $body:block
    ) => {
        $(#[$doc])*
        pub struct $name;

        impl crate::check::Rule for $name {
            fn id(&self) -> &'static str {
                $id
            }
            fn level(&self) -> crate::model::Level {
                crate::model::Level::$level
            }
            fn description(&self) -> &'static str {
                $description
            }
            fn hint(&self) -> &'static str {
                $hint
            }
            fn check(&self, $subject: &crate::check::Subject) -> crate::check::Outcome $body
        }
    };
}
use rule;

/// Every rule, in the order reports list them.
pub static RULES: &[&dyn Rule] = &[
    &health_endpoint::HealthEndpoint,
    &readiness_probe::ReadinessProbe,
    &liveness_differs::LivenessDiffers,
    &resource_requests::ResourceRequests,
    &resource_limits::ResourceLimits,
    &replicas_ha::ReplicasHa,
    &pod_disruption_budget::PodDisruptionBudget,
    &anti_affinity::AntiAffinity,
    &image_pinned::ImagePinned,
    &port_range::PortRange,
    &secrets_not_inline::SecretsNotInline,
    &autoscale_bounds::AutoscaleBounds,
    &backups::Backups,
    &backup_tools_port::BackupToolsPort,
];
