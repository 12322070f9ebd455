//! `elbv2_listener`: the resource's AWS calls; schema, rules and state shaping are in `model`.

mod model;

use async_trait::async_trait;
use tgbind_aws::elbv2::types::{Certificate, ProtocolEnum};
use tgbind_aws::{classify, error_message, ErrorKind};

use crate::framework::{Diagnostics, Resource, Schema};
use crate::provider_config::Elbv2Context;
use crate::resources::actions;
use crate::resources::arn::elbv2_arn_kind;
use crate::resources::common::{fetch_tags, i32_of, report, str_of, to_tags, update_tags};
use crate::resources::tags::plan_tags_all;
use crate::tfvalue::{AttributePath, Value};
use model::{state_from_remote, RemoteListener};

pub struct Listener {
    schema: Schema,
}

impl Default for Listener {
    fn default() -> Self {
        Self::new()
    }
}

impl Listener {
    pub fn new() -> Self {
        Self { schema: model::schema() }
    }
}

async fn fetch_remote(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<RemoteListener> {
    let out = match ctx.client.describe_listeners().listener_arns(arn).send().await {
        Ok(out) => out,
        Err(e) if classify(&e) == ErrorKind::NotFound => return None,
        Err(e) => {
            report(diags, "DescribeListeners", &e);
            return None;
        }
    };
    let l = out.listeners().first()?;
    let tags = fetch_tags(ctx, arn, diags).await?;
    Some(remote_from(l, tags))
}

/// A listener as AWS describes it (DescribeListeners or CreateListener), with its tags.
fn remote_from(l: &tgbind_aws::elbv2::types::Listener, tags: std::collections::BTreeMap<String, String>) -> RemoteListener {
    RemoteListener {
        arn: l.listener_arn().unwrap_or_default().to_string(),
        load_balancer_arn: l.load_balancer_arn().unwrap_or_default().to_string(),
        port: l.port().map(i64::from),
        protocol: l.protocol().map(|p| p.as_str().to_string()),
        // The first certificate of DescribeListeners is the default one.
        certificate_arn: l.certificates().first().and_then(|c| c.certificate_arn()).map(str::to_string),
        ssl_policy: l.ssl_policy().map(str::to_string),
        alpn_policy: l.alpn_policy().first().cloned(),
        default_actions: l.default_actions().to_vec(),
        tags,
    }
}

async fn read_state(ctx: &Elbv2Context, arn: &str, prior: &Value, diags: &mut Diagnostics) -> Value {
    match fetch_remote(ctx, arn, diags).await {
        Some(remote) => state_from_remote(&remote, prior, &ctx.default_tags),
        None => Value::Null,
    }
}

/// The protocol of a listener that names none: HTTP on an application load balancer, TCP on a
/// network one (AWS wants it spelled out).
async fn default_protocol(ctx: &Elbv2Context, lb_arn: &str) -> Option<String> {
    let out = ctx.client.describe_load_balancers().load_balancer_arns(lb_arn).send().await.ok()?;
    let kind = out.load_balancers().first()?.r#type()?.as_str().to_string();
    Some(if kind == "network" { "TCP" } else { "HTTP" }.to_string())
}

fn certificates(planned: &Value) -> Option<Vec<Certificate>> {
    str_of(planned.get("certificate_arn")).map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
}

fn sdk_actions(planned: &Value) -> Option<Vec<tgbind_aws::elbv2::types::Action>> {
    Some(planned.get("default_action").elements().iter().map(actions::to_sdk).collect())
}

#[async_trait]
impl Resource<Elbv2Context> for Listener {
    fn type_name(&self) -> &'static str {
        "elbv2_listener"
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        model::validate(config, diags);
    }

    fn modify_plan(&self, ctx: &Elbv2Context, _prior: &Value, config: &Value, planned: &mut Value, _diags: &mut Diagnostics) {
        planned.set("tags_all", plan_tags_all(&ctx.default_tags, config.get("tags")));
    }

    async fn create(&self, ctx: &Elbv2Context, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let lb_arn = str_of(planned.get("load_balancer_arn"));
        let protocol = match str_of(planned.get("protocol")) {
            Some(p) => Some(p),
            None => default_protocol(ctx, lb_arn.as_deref().unwrap_or_default()).await,
        };
        let created = ctx
            .client
            .create_listener()
            .set_load_balancer_arn(lb_arn)
            .set_port(i32_of(planned.get("port")))
            .set_protocol(protocol.map(|p| ProtocolEnum::from(p.as_str())))
            .set_certificates(certificates(planned))
            .set_ssl_policy(str_of(planned.get("ssl_policy")))
            .set_alpn_policy(str_of(planned.get("alpn_policy")).map(|p| vec![p]))
            .set_default_actions(sdk_actions(planned))
            .set_tags(to_tags(&planned.get("tags_all").as_string_map()))
            .send()
            .await;
        match created {
            // The answer describes the new listener; with the tags just set, that is its state.
            Ok(out) => match out.listeners().first().filter(|l| l.listener_arn().is_some()) {
                Some(l) => state_from_remote(&remote_from(l, planned.get("tags_all").as_string_map()), planned, &ctx.default_tags),
                None => {
                    diags.error(
                        "CreateListener returned no listener",
                        "AWS answered without an ARN; nothing to record.",
                    );
                    Value::Null
                }
            },
            Err(e) => {
                report(diags, "CreateListener", &e);
                Value::Null
            }
        }
    }

    async fn read(&self, ctx: &Elbv2Context, state: &Value, diags: &mut Diagnostics) -> Value {
        let Some(arn) = state.get("arn").as_str() else { return Value::Null };
        read_state(ctx, arn, state, diags).await
    }

    async fn update(&self, ctx: &Elbv2Context, prior: &Value, planned: &Value, _config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(arn) = prior.get("arn").as_str() else {
            diags.error("Listener has no ARN in state", "Remove it from state and import it again.");
            return prior.clone();
        };
        let mut settings_changed = false;
        for name in ["port", "protocol", "certificate_arn", "ssl_policy", "alpn_policy", "default_action"] {
            settings_changed |= planned.get(name) != prior.get(name);
        }
        if settings_changed {
            let out = ctx
                .client
                .modify_listener()
                .listener_arn(arn)
                .set_port(i32_of(planned.get("port")))
                .set_protocol(str_of(planned.get("protocol")).map(|p| ProtocolEnum::from(p.as_str())))
                .set_certificates(certificates(planned))
                .set_ssl_policy(str_of(planned.get("ssl_policy")))
                .set_alpn_policy(str_of(planned.get("alpn_policy")).map(|p| vec![p]))
                .set_default_actions(sdk_actions(planned))
                .send()
                .await;
            if let Err(e) = out {
                report(diags, "ModifyListener", &e);
            }
        }
        update_tags(ctx, arn, prior, planned, diags).await;
        let state = read_state(ctx, arn, planned, diags).await;
        if state.is_null() {
            diags.error("Listener disappeared during update", format!("{arn} no longer exists."));
        }
        state
    }

    async fn delete(&self, ctx: &Elbv2Context, prior: &Value, diags: &mut Diagnostics) {
        let Some(arn) = prior.get("arn").as_str() else { return };
        match ctx.client.delete_listener().listener_arn(arn).send().await {
            Ok(_) => {}
            Err(e) if classify(&e) == ErrorKind::NotFound => {}
            Err(e) => diags.error("DeleteListener failed", error_message(&e)),
        }
    }

    async fn import(&self, ctx: &Elbv2Context, id: &str, diags: &mut Diagnostics) -> Value {
        if elbv2_arn_kind(id) != Some("listener") {
            diags.error_at(
                &AttributePath::root(),
                "Invalid import ID",
                format!("{id:?} is not a listener ARN (arn:aws:elasticloadbalancing:<region>:<account>:listener/app|net/<lb-name>/<lb-id>/<id>)."),
            );
            return Value::Null;
        }
        read_state(ctx, id, &Value::Null, diags).await
    }
}
