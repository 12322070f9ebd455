//! EndpointSlices in whichever version the cluster serves: `discovery.k8s.io/v1` on current
//! clusters, `v1beta1` before 1.21. Both carry the fields we read in the same shape, so the controller
//! watches them as dynamic objects of the version chosen at start-up and reads one plain struct.

use kube::api::{ApiResource, DynamicObject};
use kube::discovery::Discovery;
use serde::Deserialize;

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The EndpointSlice fields the controller uses.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Slice {
    #[serde(default)]
    pub address_type: String,
    #[serde(default)]
    pub endpoints: Vec<SliceEndpoint>,
    #[serde(default)]
    pub ports: Vec<SlicePort>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SliceEndpoint {
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub conditions: SliceConditions,
    #[serde(default)]
    pub target_ref: Option<SliceTargetRef>,
    #[serde(default)]
    pub node_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct SliceConditions {
    pub ready: Option<bool>,
    pub serving: Option<bool>,
    pub terminating: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct SliceTargetRef {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct SlicePort {
    /// Empty for a Service with a single unnamed port.
    pub name: Option<String>,
    pub port: Option<i32>,
    pub protocol: Option<String>,
}

impl Slice {
    /// Reads a slice from a dynamic object; a malformed slice reads as empty rather than failing.
    pub fn from_dynamic(obj: &DynamicObject) -> Slice {
        serde_json::from_value(obj.data.clone()).unwrap_or_default()
    }
}

/// `discovery.k8s.io/v1` when served, else `v1beta1`.
pub async fn endpoint_slice_resource(client: &kube::Client) -> anyhow::Result<ApiResource> {
    let discovery = Discovery::new(client.clone()).filter(&["discovery.k8s.io"]).run().await?;
    let group = discovery
        .groups()
        .find(|g| g.name() == "discovery.k8s.io")
        .ok_or_else(|| anyhow::anyhow!("the cluster serves no discovery.k8s.io API (EndpointSlices)"))?;
    for version in ["v1", "v1beta1"] {
        if let Some((ar, _)) = group
            .versioned_resources(version)
            .into_iter()
            .find(|(ar, _)| ar.kind == "EndpointSlice")
        {
            return Ok(ar);
        }
    }
    anyhow::bail!("the cluster serves EndpointSlice in neither discovery.k8s.io/v1 nor v1beta1")
}
