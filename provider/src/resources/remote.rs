//! AWS calls every elbv2 resource shares: error reporting, tags, and the lookup that data sources
//! use to find one object by ARN, name or tags.

use std::collections::BTreeMap;
use std::future::Future;

use tgbind_aws::elbv2::types::Tag;
use tgbind_aws::error_message;

use crate::context::Elbv2Context;
use crate::framework::tags::tag_changes;
use crate::framework::{Blocks, Diagnostics, Resource};
use crate::resources::values::exactly_one;
use crate::tfvalue::Value;

/// Reports a failed AWS call as an error diagnostic naming the operation.
pub fn report<E>(diags: &mut Diagnostics, what: &str, err: &E)
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    diags.error(format!("{what} failed"), error_message(err));
}

pub fn to_tags(tags: &BTreeMap<String, String>) -> Option<Vec<Tag>> {
    if tags.is_empty() {
        return None;
    }
    Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect())
}

/// Tags of one object, or `None` after reporting an error.
pub async fn fetch_tags(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<BTreeMap<String, String>> {
    match ctx.client.describe_tags().resource_arns(arn).send().await {
        Ok(out) => Some(
            out.tag_descriptions()
                .iter()
                .flat_map(|d| d.tags())
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .collect(),
        ),
        Err(e) => {
            report(diags, "DescribeTags", &e);
            None
        }
    }
}

/// Writes the tag changes from `prior.tags_all` to `planned.tags_all`: removals, then additions.
pub async fn update_tags(ctx: &Elbv2Context, arn: &str, prior: &Value, planned: &Value, diags: &mut Diagnostics) {
    let (upserts, removals) = tag_changes(&prior.get("tags_all").as_string_map(), &planned.get("tags_all").as_string_map());
    if !removals.is_empty() {
        if let Err(e) = ctx
            .client
            .remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(removals))
            .send()
            .await
        {
            report(diags, "RemoveTags", &e);
        }
    }
    if let Some(tags) = to_tags(&upserts) {
        if let Err(e) = ctx.client.add_tags().resource_arns(arn).set_tags(Some(tags)).send().await {
            report(diags, "AddTags", &e);
        }
    }
}

/// The candidates whose tags include every wanted tag (DescribeTags takes 20 ARNs per call).
pub async fn filter_by_tags(
    ctx: &Elbv2Context,
    arns: Vec<String>,
    wanted: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> Option<Vec<String>> {
    if wanted.is_empty() {
        return Some(arns);
    }
    let mut out = Vec::new();
    for batch in arns.chunks(20) {
        match ctx.client.describe_tags().set_resource_arns(Some(batch.to_vec())).send().await {
            Ok(res) => {
                for d in res.tag_descriptions() {
                    let tags: BTreeMap<&str, &str> = d
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
                        .collect();
                    if wanted.iter().all(|(k, v)| tags.get(k.as_str()) == Some(&v.as_str())) {
                        out.extend(d.resource_arn().map(str::to_string));
                    }
                }
            }
            Err(e) => {
                report(diags, "DescribeTags", &e);
                return None;
            }
        }
    }
    Some(out)
}

/// The one object a data source's `arn`, `name` and `tags` select, or `None` after an error
/// saying there were none or several. `by_name` lists the ARNs of the objects with a name (every
/// object when the name is `None`); each data source gives its own Describe call.
pub async fn lookup<F, Fut>(ctx: &Elbv2Context, config: &Value, what: &str, by_name: F, diags: &mut Diagnostics) -> Option<String>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: Future<Output = Result<Vec<String>, (String, String)>>,
{
    let candidates = match config.get("arn").as_str() {
        Some(arn) => vec![arn.to_string()],
        None => match by_name(config.get("name").as_str().map(str::to_string)).await {
            Ok(arns) => arns,
            Err((operation, message)) => {
                diags.error(format!("{operation} failed"), message);
                return None;
            }
        },
    };
    let matches = filter_by_tags(ctx, candidates, &config.get("tags").as_string_map(), diags).await?;
    exactly_one(matches, what, diags)
}

/// The states of listed objects, read one by one as an import reads them (`terraform query`); an
/// object deleted meanwhile is left out. `list_arns` gives the ARNs or the failed call and message.
pub async fn read_listed<R>(
    resource: &R,
    ctx: &Elbv2Context,
    list_arns: Result<Vec<String>, (String, String)>,
    tags: &BTreeMap<String, String>,
    blocks: Blocks,
    diags: &mut Diagnostics,
) -> Vec<Value>
where
    R: Resource<Elbv2Context> + ?Sized,
{
    let arns = match list_arns {
        Ok(arns) => arns,
        Err((operation, message)) => {
            diags.error(format!("{operation} failed"), message);
            return Vec::new();
        }
    };
    let Some(arns) = filter_by_tags(ctx, arns, tags, diags).await else {
        return Vec::new();
    };
    let mut states = Vec::new();
    for arn in arns {
        let state = resource.import(ctx, &arn, blocks, diags).await;
        if !state.is_null() {
            states.push(state);
        }
    }
    states
}
