//! Fuzz target bodies, shared by the libFuzzer targets (`fuzz/fuzz_targets/`, run coverage-guided by
//! `scripts/fuzz.sh` on stable, or by `cargo fuzz` on nightly) and the seed-mutation smoke run in
//! the test suite (`testkit/tests/fuzz_bounded.rs`). Each takes
//! arbitrary bytes and must never panic, whatever it makes of them.

use terraform_provider_elbv2::framework::plan::plan_change_with;
use terraform_provider_elbv2::framework::{Diagnostics, ProviderDefinition};
use terraform_provider_elbv2::provider::Elbv2Provider;
use terraform_provider_elbv2::tfvalue::{decode_json, decode_msgpack, Type};

/// The DynamicValue decoders (msgpack and JSON), against every resource and data source schema
/// type and the dynamic type; a decoded value must encode back.
pub fn dynamic_value(data: &[u8]) {
    let provider = Elbv2Provider::new();
    let mut types: Vec<Type> = provider.resources().iter().map(|r| r.schema().value_type()).collect();
    types.extend(provider.data_sources().iter().map(|d| d.schema().value_type()));
    types.push(Type::Dynamic);
    let ty = &types[data.first().copied().unwrap_or(0) as usize % types.len()];
    let body = data.get(1..).unwrap_or_default();
    if let Ok(v) = decode_msgpack(body, ty) {
        let again = terraform_provider_elbv2::tfvalue::encode_msgpack(&v, ty);
        let _ = decode_msgpack(&again, ty);
    }
    if let Ok(v) = decode_json(body, ty) {
        let _ = terraform_provider_elbv2::tfvalue::encode_json(&v);
    }
}

/// Validation and planning: a prior state and a configuration decoded from the bytes (msgpack, in
/// a resource's schema type), validated and planned as Terraform would ask.
pub fn plan(data: &[u8]) {
    let provider = Elbv2Provider::new();
    let resources = provider.resources();
    let Some((&selector, rest)) = data.split_first() else { return };
    let resource = &resources[selector as usize % resources.len()];
    let schema = resource.schema();
    let ty = schema.value_type();
    let split = rest.first().map_or(0, |&b| b as usize * rest.len() / 256);
    let (prior, config) = rest.split_at(split.min(rest.len()));
    let prior = decode_msgpack(prior, &ty).unwrap_or_default();
    let Ok(config) = decode_msgpack(config, &ty) else { return };
    let mut diags = Diagnostics::new();
    schema.validate(&config, &mut diags);
    let triggers = if prior.is_null() {
        Vec::new()
    } else {
        resource.replace_triggers(&prior, &config)
    };
    let _ = plan_change_with(&schema.block, &prior, &config, &config, triggers);
}

/// What the controller decodes from the API server: TargetGroupBindings (JSON and YAML),
/// EndpointSlices, and ownership records; then the pure decisions over them (targets, and the
/// security-group rules of `spec.networking`).
pub fn crd(data: &[u8]) {
    use tgbind_controller::crd::TargetGroupBinding;
    use tgbind_controller::desired::{ip_targets, parse_owned, resolve_service_port};
    use tgbind_controller::endpoints::Slice;
    if let Ok(tgb) = serde_json::from_slice::<TargetGroupBinding>(data) {
        // The pure checks a reconcile starts with, and what the binding's own record says.
        let _ = tgbind_controller::validation::check_form(&tgb);
        let target_type = tgbind_controller::bound::known_target_type(&tgb).unwrap_or(tgbind_controller::crd::TargetType::Ip);
        let service = k8s_openapi::api::core::v1::Service::default();
        let _ = resolve_service_port(&service, &tgb.spec.service_ref.port);
        if let Some(networking) = &tgb.spec.networking {
            use tgbind_controller::networking::rules::{permissions, validate};
            if validate(networking, target_type).is_ok() {
                let _ = permissions(
                    networking,
                    |name| if name.len() % 2 == 0 { [8080].into() } else { Default::default() },
                );
            }
        }
    }
    let _ = serde_yaml::from_slice::<TargetGroupBinding>(data);
    if let Ok(slice) = serde_json::from_slice::<Slice>(data) {
        let _ = ip_targets([&slice], "http", tgbind_controller::crd::IpAddressType::Ipv4, &Default::default());
    }
    let _ = parse_owned(&String::from_utf8_lossy(data));
}
