//! The tfplugin6 `Provider` service: decodes requests, calls the provider definition, resources
//! and data sources, and encodes answers. Adding a resource never touches this file.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::convert::{decode_dynamic, diagnostics_to_proto, encode_dynamic, normalize_blocks, path_to_proto, schema_to_proto};
use super::identity;
use super::plan::plan_change_with;
use super::resource::{Blocks, DataSource, ProviderContext, ProviderDefinition, Resource};
use super::tags::plan_tags_all;
use super::{Diagnostics, Schema};
use crate::proto::tfplugin6 as pb;
use crate::tfvalue::{decode_json, AttributePath, Value};

/// A resource or data source with the schema it declared, built once at start.
struct Registered<T: ?Sized> {
    schema: Schema,
    /// A resource's `list` block schema (`terraform query`); none for data sources.
    list_schema: Option<Schema>,
    imp: Arc<T>,
}

type ResourceMap<C> = BTreeMap<&'static str, Registered<dyn Resource<C>>>;
type DataSourceMap<C> = BTreeMap<&'static str, Registered<dyn DataSource<C>>>;

pub struct ProviderService<P: ProviderDefinition> {
    definition: Arc<P>,
    resources: ResourceMap<P::Context>,
    data_sources: DataSourceMap<P::Context>,
    context: tokio::sync::RwLock<Option<Arc<P::Context>>>,
    /// Cancelled by StopProvider; a fresh token replaces it so the provider keeps serving.
    stop: Mutex<CancellationToken>,
    /// Whether the Terraform that configured us accepts the legacy type system bit from a
    /// protocol 6 provider (1.11 and later do; 1.0 does not), see `Schema::blank_is_unset`.
    legacy_bit_honoured: std::sync::atomic::AtomicBool,
    schema: OnceLock<pb::get_provider_schema::Response>,
}

impl<P: ProviderDefinition> ProviderService<P> {
    pub fn new(definition: P) -> Self {
        let resources = definition
            .resources()
            .into_iter()
            .map(|r| {
                (
                    r.type_name(),
                    Registered {
                        schema: r.schema(),
                        list_schema: r.list_schema(),
                        imp: r,
                    },
                )
            })
            .collect();
        let data_sources = definition
            .data_sources()
            .into_iter()
            .map(|d| {
                (
                    d.type_name(),
                    Registered {
                        schema: d.schema(),
                        list_schema: None,
                        imp: d,
                    },
                )
            })
            .collect();
        Self {
            definition: Arc::new(definition),
            resources,
            data_sources,
            context: tokio::sync::RwLock::new(None),
            stop: Mutex::new(CancellationToken::new()),
            legacy_bit_honoured: std::sync::atomic::AtomicBool::new(false),
            schema: OnceLock::new(),
        }
    }

    fn resource(&self, name: &str) -> Result<&Registered<dyn Resource<P::Context>>, Status> {
        self.resources
            .get(name)
            .ok_or_else(|| Status::not_found(format!("unknown resource type {name:?}")))
    }
    fn list_schema(&self, name: &str) -> Result<&Schema, Status> {
        self.resource(name)?
            .list_schema
            .as_ref()
            .ok_or_else(|| Status::not_found(format!("{name} has no list resource")))
    }

    fn data_source(&self, name: &str) -> Result<&Registered<dyn DataSource<P::Context>>, Status> {
        self.data_sources
            .get(name)
            .ok_or_else(|| Status::not_found(format!("unknown data source {name:?}")))
    }

    /// The optional blocks an import shows: every one where plans can keep blocks the configuration
    /// omits, otherwise only those switched on (see `Schema::keeps_blocks`).
    fn import_blocks(&self) -> Blocks {
        if self.legacy_bit_honoured.load(std::sync::atomic::Ordering::Relaxed) {
            Blocks::All
        } else {
            Blocks::SwitchedOn
        }
    }

    async fn context(&self, diags: &mut Diagnostics) -> Option<Arc<P::Context>> {
        let ctx = self.context.read().await.clone();
        if ctx.is_none() {
            diags.error(
                "Provider not configured",
                "Terraform called the provider before ConfigureProvider succeeded.",
            );
        }
        ctx
    }

    /// Runs AWS work so that StopProvider can interrupt it.
    async fn cancellable<T>(&self, diags: &mut Diagnostics, work: impl Future<Output = T>) -> Option<T> {
        let token = self.stop.lock().expect("stop token lock").clone();
        tokio::select! {
            out = work => Some(out),
            _ = token.cancelled() => {
                diags.error("Operation cancelled", "Terraform asked the provider to stop (StopProvider); the operation was interrupted and may be incomplete.");
                None
            }
        }
    }

    fn build_schema(&self) -> pb::get_provider_schema::Response {
        pb::get_provider_schema::Response {
            provider: Some(schema_to_proto(self.definition.schema())),
            resource_schemas: self
                .resources
                .iter()
                .map(|(n, r)| (n.to_string(), schema_to_proto(&r.schema)))
                .collect(),
            data_source_schemas: self
                .data_sources
                .iter()
                .map(|(n, d)| (n.to_string(), schema_to_proto(&d.schema)))
                .collect(),
            list_resource_schemas: self
                .resources
                .iter()
                .filter_map(|(n, r)| Some((n.to_string(), schema_to_proto(r.list_schema.as_ref()?))))
                .collect(),
            server_capabilities: Some(pb::ServerCapabilities {
                plan_destroy: false,
                // Every RPC works without GetProviderSchema first (schemas are built at start),
                // so Terraform 1.6 and later reuse the schema they read and skip the call on every
                // further start of the provider within one command.
                get_provider_schema_optional: true,
                move_resource_state: true,
                // Terraform writes `-generate-config-out` from the schema and the state itself.
                generate_resource_config: false,
            }),
            ..Default::default()
        }
    }
}

#[tonic::async_trait]
impl<P: ProviderDefinition> pb::provider_server::Provider for ProviderService<P> {
    async fn get_metadata(&self, _: Request<pb::get_metadata::Request>) -> Result<Response<pb::get_metadata::Response>, Status> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: self.build_schema().server_capabilities,
            resources: self
                .resources
                .keys()
                .map(|n| pb::get_metadata::ResourceMetadata { type_name: n.to_string() })
                .collect(),
            data_sources: self
                .data_sources
                .keys()
                .map(|n| pb::get_metadata::DataSourceMetadata { type_name: n.to_string() })
                .collect(),
            list_resources: self
                .resources
                .iter()
                .filter(|(_, r)| r.list_schema.is_some())
                .map(|(n, _)| pb::get_metadata::ListResourceMetadata { type_name: n.to_string() })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(self.schema.get_or_init(|| self.build_schema()).clone()))
    }

    async fn get_functions(&self, _: Request<pb::get_functions::Request>) -> Result<Response<pb::get_functions::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let diagnostics = validate_config(self.definition.schema(), req.into_inner().config.as_ref(), "provider configuration");
        Ok(Response::new(pb::validate_provider_config::Response { diagnostics }))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let req = req.into_inner();
        let schema = &self.resource(&req.type_name)?.schema;
        // Terraform validates each resource in its validate walk (provider not configured yet,
        // other resources' attributes unknown) and again in every later plan with the values it
        // has learnt by then: during an apply, and when it plans a destroy. An error that appears
        // only in those later calls would fail an apply half-way and then block the destroy that
        // cleans it up. So after configuration the same findings are warnings, and they are
        // errors again just before this resource's create or update (see apply_resource_change).
        let configured = self.context.read().await.is_some();
        let mut diags = validated(schema, req.config.as_ref(), "configuration");
        if configured {
            diags.downgrade_errors(
                "Terraform learnt this value after validating the configuration; creating or updating this resource will fail with this error, and `terraform destroy` is not blocked by it.",
            );
        }
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: diagnostics_to_proto(&diags),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let req = req.into_inner();
        let schema = &self.data_source(&req.type_name)?.schema;
        let diagnostics = validate_config(schema, req.config.as_ref(), "configuration");
        Ok(Response::new(pb::validate_data_resource_config::Response { diagnostics }))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let req = req.into_inner();
        let resource = self.resource(&req.type_name)?;
        let ty = resource.schema.value_type();
        let mut diags = Diagnostics::new();
        let raw = req.raw_state.unwrap_or_default();
        let mut state = Value::Null;
        if !raw.flatmap.is_empty() && raw.json.is_empty() {
            diags.error(
                "Unsupported state format",
                "This state was written in the pre-0.12 flatmap format, which this provider never wrote.",
            );
        } else if !raw.json.is_empty() {
            match serde_json::from_slice::<serde_json::Value>(&raw.json) {
                Ok(json) => {
                    let upgraded = resource.imp.upgrade_state(req.version, json, &mut diags);
                    let bytes = serde_json::to_vec(&upgraded).unwrap_or_default();
                    match decode_json(&bytes, &ty) {
                        Ok(v) => state = v,
                        Err(e) => diags.error("Stored state does not match the schema", e.to_string()),
                    }
                }
                Err(e) => diags.error("Stored state is not valid JSON", e.to_string()),
            }
        }
        normalize_blocks(&resource.schema.block, &mut state);
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state: Some(encode_dynamic(&state, &ty)),
            diagnostics: diagnostics_to_proto(&diags),
        }))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let req = req.into_inner();
        self.legacy_bit_honoured.store(
            version_at_least(&req.terraform_version, (1, 11)),
            std::sync::atomic::Ordering::Relaxed,
        );
        let schema = self.definition.schema();
        let mut diags = Diagnostics::new();
        let config = decode_dynamic(req.config.as_ref(), &schema.value_type(), "provider configuration", &mut diags);
        if !diags.has_errors() {
            if let Some(ctx) = self.definition.configure(&config, &mut diags).await {
                *self.context.write().await = Some(Arc::new(ctx));
            }
        }
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diagnostics_to_proto(&diags),
        }))
    }

    async fn read_resource(&self, req: Request<pb::read_resource::Request>) -> Result<Response<pb::read_resource::Response>, Status> {
        let req = req.into_inner();
        let resource = self.resource(&req.type_name)?;
        let ty = resource.schema.value_type();
        let mut diags = Diagnostics::new();
        let current = decode_dynamic(req.current_state.as_ref(), &ty, "state", &mut diags);
        let mut new_state = current.clone();
        if !diags.has_errors() && !current.is_null() {
            if let Some(ctx) = self.context(&mut diags).await {
                let mut read_diags = Diagnostics::new();
                let refresh = super::refresh::refreshing(resource.imp.read(&ctx, &current, &mut read_diags));
                let read = self.cancellable(&mut diags, refresh).await;
                let failed = read_diags.has_errors();
                diags.extend(read_diags);
                // On failure keep the state as it was: an error must never look like "gone".
                if let (Some(v), false) = (read, failed) {
                    new_state = v;
                }
            }
        }
        normalize_blocks(&resource.schema.block, &mut new_state);
        Ok(Response::new(pb::read_resource::Response {
            new_identity: identity::of_state(&new_state),
            new_state: Some(encode_dynamic(&new_state, &ty)),
            diagnostics: diagnostics_to_proto(&diags),
            private: req.private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let req = req.into_inner();
        let resource = self.resource(&req.type_name)?;
        let schema = &resource.schema;
        let ty = schema.value_type();
        let mut diags = Diagnostics::new();
        let prior = decode_dynamic(req.prior_state.as_ref(), &ty, "prior state", &mut diags);
        let mut proposed = decode_dynamic(req.proposed_new_state.as_ref(), &ty, "proposed state", &mut diags);
        let mut config = decode_dynamic(req.config.as_ref(), &ty, "configuration", &mut diags);
        // Where Terraform would refuse a plan that differs from the literal `""`, the blank is
        // planned as written and the object keeps it in state (its real name is in its ARN).
        let legacy = self.legacy_bit_honoured.load(std::sync::atomic::Ordering::Relaxed);
        let blanks = legacy && schema.unset_blanks(&mut config);
        if blanks && !proposed.is_null() {
            // As Terraform proposes an unset computed attribute: the prior value.
            for name in schema.blank_is_unset {
                if config.get(name).is_null() {
                    proposed.set(name, prior.get(name).clone());
                }
            }
        }
        // A kept block the configuration leaves out is planned as the prior state has it, as if
        // the configuration stated it (see `Schema::keeps_blocks`).
        let kept = if legacy && !proposed.is_null() {
            schema.omitted_kept_blocks(&prior, &config)
        } else {
            Vec::new()
        };
        for name in &kept {
            config.set(name, prior.get(name).clone());
            proposed.set(name, prior.get(name).clone());
        }
        let mut response = pb::plan_resource_change::Response {
            planned_state: Some(encode_dynamic(&proposed, &ty)),
            planned_private: req.prior_private,
            legacy_type_system: blanks || !kept.is_empty(),
            ..Default::default()
        };
        if !diags.has_errors() && !proposed.is_null() {
            let triggers = if prior.is_null() {
                Vec::new()
            } else {
                resource.imp.replace_triggers(&prior, &proposed)
            };
            let mut plan = plan_change_with(&schema.block, &prior, &proposed, &config, triggers);
            if let Some(ctx) = self.context(&mut diags).await {
                if schema.block.attr("tags_all").is_some() {
                    plan.planned.set("tags_all", plan_tags_all(ctx.default_tags(), config.get("tags")));
                }
                resource.imp.modify_plan(&ctx, &prior, &config, &mut plan.planned, &mut diags);
            }
            normalize_blocks(&schema.block, &mut plan.planned);
            // Known while the object stays the same one; a create or replacement learns it at apply.
            if plan.requires_replace.is_empty() {
                response.planned_identity = identity::of_state(&plan.planned);
            }
            response.planned_state = Some(encode_dynamic(&plan.planned, &ty));
            response.requires_replace = plan.requires_replace.iter().map(path_to_proto).collect();
        }
        response.diagnostics = diagnostics_to_proto(&diags);
        Ok(Response::new(response))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let req = req.into_inner();
        let resource = self.resource(&req.type_name)?;
        let ty = resource.schema.value_type();
        let mut diags = Diagnostics::new();
        let prior = decode_dynamic(req.prior_state.as_ref(), &ty, "prior state", &mut diags);
        let planned = decode_dynamic(req.planned_state.as_ref(), &ty, "planned state", &mut diags);
        let mut config = decode_dynamic(req.config.as_ref(), &ty, "configuration", &mut diags);
        let legacy = self.legacy_bit_honoured.load(std::sync::atomic::Ordering::Relaxed);
        let blanks = resource.schema.unset_blanks(&mut config) && legacy;
        // As planned (see plan_resource_change): the kept blocks the configuration omits.
        let kept = if legacy {
            resource.schema.omitted_kept_blocks(&planned, &config)
        } else {
            Vec::new()
        };
        for name in &kept {
            config.set(name, planned.get(name).clone());
        }
        // Until the work finishes, the honest answer is "as before".
        let mut new_state = prior.clone();
        if !planned.is_null() && !diags.has_errors() {
            // The whole validation again, now that every value is known, before any AWS write.
            resource.schema.validate(&config, &mut diags);
        }
        if !diags.has_errors() {
            if let Some(ctx) = self.context(&mut diags).await {
                let mut work_diags = Diagnostics::new();
                ctx.writing();
                let result = if planned.is_null() {
                    self.cancellable(&mut diags, async {
                        resource.imp.delete(&ctx, &prior, &mut work_diags).await;
                        if work_diags.has_errors() {
                            prior.clone()
                        } else {
                            Value::Null
                        }
                    })
                    .await
                } else if prior.is_null() {
                    self.cancellable(&mut diags, resource.imp.create(&ctx, &planned, &config, &mut work_diags))
                        .await
                } else {
                    self.cancellable(&mut diags, resource.imp.update(&ctx, &prior, &planned, &config, &mut work_diags))
                        .await
                };
                ctx.writing();
                diags.extend(work_diags);
                if let Some(v) = result {
                    new_state = v;
                }
            }
        }
        // A partial state (created, then a later step failed) may still hold planned unknowns;
        // Terraform refuses any unknown after apply, and the object must not be lost.
        new_state.unknowns_to_null();
        normalize_blocks(&resource.schema.block, &mut new_state);
        Ok(Response::new(pb::apply_resource_change::Response {
            new_identity: identity::of_state(&new_state),
            new_state: Some(encode_dynamic(&new_state, &ty)),
            private: req.planned_private,
            diagnostics: diagnostics_to_proto(&diags),
            legacy_type_system: blanks || !kept.is_empty(),
        }))
    }

    /// `moved { from = aws_lb_target_group.x  to = elbv2_target_group.x }`: the state another
    /// provider wrote, taken over without touching the object (Terraform 1.8 and later). The
    /// refresh that follows reads the object and fills in whatever the old state did not say.
    async fn move_resource_state(
        &self,
        req: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        let req = req.into_inner();
        let resource = self.resource(&req.target_type_name)?;
        let ty = resource.schema.value_type();
        let mut diags = Diagnostics::new();
        let mut state = Value::Null;
        let sources = resource.imp.moves_from();
        let from_aws = req.source_provider_address.trim_end_matches('/').ends_with("hashicorp/aws");
        let json = req.source_state.map(|raw| raw.json).unwrap_or_default();
        if !from_aws || !sources.contains(&req.source_type_name.as_str()) {
            let accepted = sources.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
            diags.error(
                "Unsupported move",
                format!(
                    "{} takes over the state of {} of hashicorp/aws, not of `{}` of {}.",
                    req.target_type_name,
                    if accepted.is_empty() {
                        "no resource type".to_string()
                    } else {
                        accepted
                    },
                    req.source_type_name,
                    req.source_provider_address
                ),
            );
        } else {
            match serde_json::from_slice::<serde_json::Value>(&json) {
                Ok(raw) => {
                    state = crate::tfvalue::decode_json_lenient(raw, &ty);
                    // terraform-provider-aws writes "" for an unset name_prefix, {} for no tags.
                    resource.schema.unset_blanks(&mut state);
                    if matches!(state.get("tags"), Value::Map(m) if m.is_empty()) {
                        state.set("tags", Value::Null);
                    }
                    resource.imp.adopt_moved_state(&mut state);
                    if state.get("id").as_str().is_none_or(str::is_empty) {
                        diags.error("Moved state has no ID", "The state being moved names no object; import it instead.");
                    }
                }
                Err(e) => diags.error("Moved state is not valid JSON", e.to_string()),
            }
        }
        normalize_blocks(&resource.schema.block, &mut state);
        Ok(Response::new(pb::move_resource_state::Response {
            target_identity: identity::of_state(&state),
            target_state: Some(encode_dynamic(&state, &ty)),
            diagnostics: diagnostics_to_proto(&diags),
            ..Default::default()
        }))
    }

    async fn validate_list_resource_config(
        &self,
        req: Request<pb::validate_list_resource_config::Request>,
    ) -> Result<Response<pb::validate_list_resource_config::Response>, Status> {
        let req = req.into_inner();
        let schema = self.list_schema(&req.type_name)?;
        let diagnostics = validate_config(schema, req.config.as_ref(), "list configuration");
        Ok(Response::new(pb::validate_list_resource_config::Response { diagnostics }))
    }

    /// `terraform query`: the objects a `list` block selects, one event each, with their identity
    /// and (when asked, as for `-generate-config-out`) their state.
    async fn list_resource(
        &self,
        req: Request<pb::list_resource::Request>,
    ) -> Result<Response<tonic::codegen::BoxStream<pb::list_resource::Event>>, Status> {
        let req = req.into_inner();
        let resource = self.resource(&req.type_name)?;
        let list_schema = self.list_schema(&req.type_name)?;
        let ty = resource.schema.value_type();
        let mut diags = Diagnostics::new();
        let filter = decode_dynamic(req.config.as_ref(), &list_schema.value_type(), "list configuration", &mut diags);
        let mut events = Vec::new();
        if !diags.has_errors() {
            if let Some(ctx) = self.context(&mut diags).await {
                let mut work_diags = Diagnostics::new();
                let listed = self
                    .cancellable(&mut diags, resource.imp.list(&ctx, &filter, self.import_blocks(), &mut work_diags))
                    .await;
                diags.extend(work_diags);
                let limit = usize::try_from(req.limit).ok().filter(|l| *l > 0).unwrap_or(usize::MAX);
                for mut state in listed.unwrap_or_default().into_iter().take(limit) {
                    normalize_blocks(&resource.schema.block, &mut state);
                    let name = state
                        .get("name")
                        .as_str()
                        .or(state.get("arn").as_str())
                        .unwrap_or_default()
                        .to_string();
                    events.push(pb::list_resource::Event {
                        identity: identity::of_state(&state),
                        display_name: name,
                        resource_object: req.include_resource_object.then(|| encode_dynamic(&state, &ty)),
                        diagnostic: Vec::new(),
                    });
                }
            }
        }
        if !diags.is_empty() {
            events.push(pb::list_resource::Event {
                diagnostic: diagnostics_to_proto(&diags),
                ..Default::default()
            });
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(events.into_iter().map(Ok)))))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        let identity_schemas = self
            .resources
            .iter()
            .map(|(name, r)| (name.to_string(), identity::schema(r.imp.import_id().description)))
            .collect();
        Ok(Response::new(pb::get_resource_identity_schemas::Response {
            identity_schemas,
            diagnostics: Vec::new(),
        }))
    }

    async fn upgrade_resource_identity(
        &self,
        req: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        let req = req.into_inner();
        self.resource(&req.type_name)?;
        let mut diags = Diagnostics::new();
        let raw = req.raw_identity.map(|r| r.json).unwrap_or_default();
        let upgraded_identity = identity::upgrade(&raw, &mut diags);
        Ok(Response::new(pb::upgrade_resource_identity::Response {
            upgraded_identity,
            diagnostics: diagnostics_to_proto(&diags),
        }))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let req = req.into_inner();
        let resource = self.resource(&req.type_name)?;
        let ty = resource.schema.value_type();
        let mut diags = Diagnostics::new();
        let mut imported = Vec::new();
        let id_form = resource.imp.import_id();
        // `import { identity = { arn = ... } }` sends the identity instead of an ID.
        let id = match identity::arn_of(req.identity.as_ref(), &mut diags) {
            Some(arn) if req.id.is_empty() => arn,
            _ => req.id.clone(),
        };
        if !(id_form.accepts)(&id) {
            diags.error_at(
                &AttributePath::root(),
                "Invalid import ID",
                format!("{id:?} is not {}, such as {}.", id_form.description, id_form.example),
            );
        } else if let Some(ctx) = self.context(&mut diags).await {
            let mut work_diags = Diagnostics::new();
            let state = self
                .cancellable(&mut diags, resource.imp.import(&ctx, &id, self.import_blocks(), &mut work_diags))
                .await;
            let failed = work_diags.has_errors();
            diags.extend(work_diags);
            match state {
                Some(Value::Null) if !failed => diags.error(
                    "Cannot import non-existent remote object",
                    format!("No {} with ID {id:?} exists.", req.type_name),
                ),
                Some(mut state) if !failed => {
                    normalize_blocks(&resource.schema.block, &mut state);
                    imported.push(pb::import_resource_state::ImportedResource {
                        type_name: req.type_name.clone(),
                        identity: identity::of_state(&state),
                        state: Some(encode_dynamic(&state, &ty)),
                        ..Default::default()
                    });
                }
                _ => {}
            }
        }
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: imported,
            diagnostics: diagnostics_to_proto(&diags),
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let req = req.into_inner();
        let ds = self.data_source(&req.type_name)?;
        let ty = ds.schema.value_type();
        let mut diags = Diagnostics::new();
        let config = decode_dynamic(req.config.as_ref(), &ty, "configuration", &mut diags);
        let mut state = config.clone();
        if !diags.has_errors() {
            if let Some(ctx) = self.context(&mut diags).await {
                let mut read_diags = Diagnostics::new();
                let read = self.cancellable(&mut diags, ds.imp.read(&ctx, &config, &mut read_diags)).await;
                let failed = read_diags.has_errors();
                diags.extend(read_diags);
                if let (Some(v), false) = (read, failed) {
                    state = v;
                }
            }
        }
        normalize_blocks(&ds.schema.block, &mut state);
        Ok(Response::new(pb::read_data_source::Response {
            state: Some(encode_dynamic(&state, &ty)),
            diagnostics: diagnostics_to_proto(&diags),
            ..Default::default()
        }))
    }

    async fn stop_provider(&self, _: Request<pb::stop_provider::Request>) -> Result<Response<pb::stop_provider::Response>, Status> {
        let mut token = self.stop.lock().expect("stop token lock");
        token.cancel();
        *token = CancellationToken::new();
        tracing::info!("StopProvider: in-flight operations cancelled");
        Ok(Response::new(pb::stop_provider::Response { error: String::new() }))
    }
}

/// The answer to every Validate*Config call: the value decodes against the schema, then meets it.
fn validate_config(schema: &Schema, config: Option<&pb::DynamicValue>, what: &str) -> Vec<pb::Diagnostic> {
    diagnostics_to_proto(&validated(schema, config, what))
}

fn validated(schema: &Schema, config: Option<&pb::DynamicValue>, what: &str) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let mut config = decode_dynamic(config, &schema.value_type(), what, &mut diags);
    schema.unset_blanks(&mut config);
    if !diags.has_errors() {
        schema.validate(&config, &mut diags);
    }
    diags
}

/// Whether a Terraform version string ("1.15.5", "1.0.3") is at least `min` (major, minor).
fn version_at_least(version: &str, min: (u64, u64)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= min
}
