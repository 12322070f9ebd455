//! EndpointSlices in whichever version the cluster serves: `discovery.k8s.io/v1` on current
//! clusters, `v1beta1` before 1.21. Both carry the fields we read in the same shape, so the controller
//! watches one compact type at the version chosen at start-up. Compact matters: the watch cache holds
//! every slice, and as generic JSON a 20-endpoint slice costs ~30 KB instead of ~2 KB.

use std::borrow::Cow;

use kube::api::{ApiResource, ObjectMeta};
use kube::core::DynamicResourceScope;
use kube::discovery::Discovery;
use serde::Deserialize;

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// `null` reads as the default: the API writes `endpoints: null` for a slice with no endpoints (a
/// Service scaled to zero), and one undecodable object would stop the whole watch.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The EndpointSlice fields the controller uses.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Slice {
    #[serde(default, deserialize_with = "null_as_default")]
    pub address_type: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoints: Vec<SliceEndpoint>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ports: Vec<SlicePort>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SliceEndpoint {
    #[serde(default)]
    pub addresses: Addresses,
    #[serde(default, deserialize_with = "null_as_default")]
    pub conditions: SliceConditions,
    /// The pod behind the endpoint: its `targetRef`'s name when that is a Pod. Only the name is
    /// kept (the cache holds every endpoint of every slice: the whole reference and the unused
    /// `nodeName` were over a third of a 20-endpoint slice's size).
    #[serde(default, rename = "targetRef", deserialize_with = "pod_of")]
    pub pod: Option<Box<str>>,
}

/// An endpoint's addresses in one allocation (joined by commas, which no IP address or DNS name
/// holds): almost every endpoint has a single address, and a list of strings costs two
/// allocations per endpoint in a cache that holds every endpoint of the cluster's bound Services.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Addresses(Box<str>);

impl Addresses {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split(',').filter(|a| !a.is_empty())
    }
}

impl<S: AsRef<str>> FromIterator<S> for Addresses {
    fn from_iter<I: IntoIterator<Item = S>>(addresses: I) -> Self {
        let joined: Vec<S> = addresses.into_iter().collect();
        Addresses(joined.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(",").into())
    }
}

impl<'de> Deserialize<'de> for Addresses {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default().into_iter().collect())
    }
}

fn pod_of<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<str>>, D::Error> {
    #[derive(Deserialize)]
    struct TargetRef {
        kind: Option<String>,
        name: Option<String>,
    }
    let reference = Option::<TargetRef>::deserialize(d)?;
    Ok(reference.and_then(|r| {
        if r.kind.as_deref() == Some("Pod") {
            r.name.map(Into::into)
        } else {
            None
        }
    }))
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct SliceConditions {
    pub ready: Option<bool>,
    pub serving: Option<bool>,
    pub terminating: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct SlicePort {
    /// Empty for a Service with a single unnamed port.
    pub name: Option<String>,
    pub port: Option<i32>,
    pub protocol: Option<String>,
}

/// An EndpointSlice object with only the fields the controller reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct EndpointSliceObject {
    pub metadata: ObjectMeta,
    #[serde(flatten)]
    pub slice: Slice,
    /// The Service the slice belongs to, moved out of its `kubernetes.io/service-name` label when it
    /// enters the cache (`run::slim_slice`): a map holding one label costs a B-tree node of ~0.5 KB,
    /// per slice of the cache.
    #[serde(skip)]
    pub service_name: Option<Box<str>>,
}

impl EndpointSliceObject {
    /// The Service the slice belongs to, whether or not the label was moved yet.
    pub fn service(&self) -> Option<&str> {
        self.service_name
            .as_deref()
            .or_else(|| self.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL).map(String::as_str))
    }
}

impl kube::Resource for EndpointSliceObject {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }
    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }
    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }
    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }
    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_slices_with_null_lists_decode() {
        let obj: EndpointSliceObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
            "metadata": { "name": "a", "namespace": "default" },
            "addressType": "IPv4", "endpoints": null, "ports": null,
        }))
        .unwrap();
        assert!(obj.slice.endpoints.is_empty() && obj.slice.ports.is_empty());
        let ep: SliceEndpoint = serde_json::from_value(serde_json::json!({ "addresses": ["10.0.0.1"], "conditions": null })).unwrap();
        assert_eq!(ep.conditions, SliceConditions::default());
    }

    #[test]
    fn an_endpoint_keeps_the_name_of_its_pod_and_nothing_else_of_its_reference() {
        let decode = |target_ref: serde_json::Value| -> Option<Box<str>> {
            serde_json::from_value::<SliceEndpoint>(
                serde_json::json!({ "addresses": ["10.0.0.1"], "targetRef": target_ref, "nodeName": "n1" }),
            )
            .unwrap()
            .pod
        };
        let pod = serde_json::json!({ "kind": "Pod", "name": "web-1", "namespace": "shop", "uid": "u" });
        assert_eq!(decode(pod).as_deref(), Some("web-1"));
        assert_eq!(decode(serde_json::json!({ "kind": "Node", "name": "n1" })), None);
        assert_eq!(decode(serde_json::Value::Null), None);
        let without: SliceEndpoint = serde_json::from_value(serde_json::json!({ "addresses": ["10.0.0.1"] })).unwrap();
        assert_eq!(without.pod, None);
    }

    #[test]
    fn addresses_read_back_as_listed() {
        let decode = |addresses: serde_json::Value| -> Vec<String> {
            let ep: SliceEndpoint = serde_json::from_value(serde_json::json!({ "addresses": addresses })).unwrap();
            ep.addresses.iter().map(String::from).collect()
        };
        assert_eq!(decode(serde_json::json!(["10.0.0.1"])), ["10.0.0.1"]);
        assert_eq!(decode(serde_json::json!(["fd00::1", "10.0.0.2"])), ["fd00::1", "10.0.0.2"]);
        assert!(decode(serde_json::json!([])).is_empty());
        assert!(decode(serde_json::Value::Null).is_empty());
    }
}
