//! The multi-cluster ownership record: ConfigMap `aws-lbc-targets-<binding>` in the binding's
//! namespace, key `targets`, the targets this cluster registered (the AWS Load Balancer
//! Controller's format, so either controller can take over). It is written before RegisterTargets,
//! so a crash never leaves a target of ours in the group that the record does not name.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use tgbind_aws::Target;

use crate::crd::TargetGroupBinding;
use crate::desired::{format_owned, parse_owned};

pub const NAME_PREFIX: &str = "aws-lbc-targets-";
pub const KEY: &str = "targets";
const FIELD_MANAGER: &str = "tgbind-controller";

pub fn record_name(binding: &str) -> String {
    format!("{NAME_PREFIX}{binding}")
}

/// The targets this cluster owns in the binding's group (none when there is no record yet).
pub async fn read(client: &kube::Client, tgb: &TargetGroupBinding) -> Result<BTreeSet<Target>, kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &tgb.namespace().unwrap_or_default());
    let cm = api.get_opt(&record_name(&tgb.name_any())).await?;
    Ok(cm
        .and_then(|cm| cm.data)
        .and_then(|d| d.get(KEY).map(|csv| parse_owned(csv)))
        .unwrap_or_default())
}

/// Creates or replaces the record, owned by the binding (so it goes when the binding goes).
pub async fn write(client: &kube::Client, tgb: &TargetGroupBinding, targets: &BTreeSet<Target>) -> Result<(), kube::Error> {
    let ns = tgb.namespace().unwrap_or_default();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let name = record_name(&tgb.name_any());
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns),
            owner_references: tgb.controller_owner_ref(&()).map(|r| vec![r]),
            ..Default::default()
        },
        data: Some([(KEY.to_string(), format_owned(targets))].into()),
        ..Default::default()
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(&cm)).await?;
    Ok(())
}

pub async fn delete(client: &kube::Client, tgb: &TargetGroupBinding) -> Result<(), kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &tgb.namespace().unwrap_or_default());
    match api.delete(&record_name(&tgb.name_any()), &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether a binding shares its group with other clusters.
pub fn is_multi_cluster(tgb: &TargetGroupBinding) -> bool {
    tgb.spec.multi_cluster_target_group == Some(true)
}
