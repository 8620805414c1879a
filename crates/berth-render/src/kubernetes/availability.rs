//! Staying up: a HorizontalPodAutoscaler where the service autoscales (with the
//! scale-up and scale-down behaviour the SrvThreds guide uses), and a
//! PodDisruptionBudget where it runs more than one replica.

use berth_core::model::Service;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::selector;

pub fn autoscaler(service: &Service, metadata: &ObjectMeta) -> Option<HorizontalPodAutoscaler> {
    let autoscale = service.autoscale.as_ref()?;
    let name = metadata.name.clone().unwrap_or_default();
    let metric = |resource: &str, target: Option<u32>| {
        target.map(|percent| MetricSpec {
            type_: "Resource".into(),
            resource: Some(ResourceMetricSource {
                name: resource.into(),
                target: MetricTarget {
                    type_: "Utilization".into(),
                    average_utilization: Some(percent as i32),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        })
    };
    let rules = |window: i32, percent: i32| HPAScalingRules {
        stabilization_window_seconds: Some(window),
        policies: Some(vec![HPAScalingPolicy {
            type_: "Percent".into(),
            value: percent,
            period_seconds: 60,
        }]),
        ..HPAScalingRules::default()
    };
    Some(HorizontalPodAutoscaler {
        metadata: metadata.clone(),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name,
            },
            min_replicas: Some(autoscale.min as i32),
            max_replicas: autoscale.max as i32,
            metrics: Some(
                [
                    metric("cpu", autoscale.cpu.map(|u| u.0)),
                    metric("memory", autoscale.memory.map(|u| u.0)),
                ]
                .into_iter()
                .flatten()
                .collect(),
            ),
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_up: Some(rules(60, 50)),
                scale_down: Some(rules(300, 10)),
            }),
        },
        ..HorizontalPodAutoscaler::default()
    })
}

pub fn disruption_budget(service: &Service, metadata: &ObjectMeta) -> Option<PodDisruptionBudget> {
    let replicas = service.replicas();
    if replicas < 2 || !service.availability.disruption_budget {
        return None;
    }
    let min_available = service.availability.min_available.unwrap_or(replicas - 1);
    Some(PodDisruptionBudget {
        metadata: metadata.clone(),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(min_available as i32)),
            selector: Some(LabelSelector {
                match_labels: Some(selector(metadata.name.as_deref().unwrap_or_default())),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}
