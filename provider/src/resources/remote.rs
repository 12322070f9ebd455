//! AWS calls every elbv2 resource shares: error reporting, tags, batch reads shared by concurrent
//! refreshes, and the lookup that data sources use to find one object by ARN, name or tags.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use tgbind_aws::elbv2::types::Tag;
use tgbind_aws::{classify, elbv2, error_message, ErrorKind};

use crate::context::Elbv2Context;
use crate::framework::refresh::is_refresh;
use crate::framework::tags::tag_changes;
use crate::framework::{Blocks, Diagnostics, Resource};
use crate::resources::coalesce::{Coalescer, ReadError};
use crate::resources::read_ahead::Listings;
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

/// Why a read failed, as a coalesced read passes it on.
pub fn read_error<E>(err: &E) -> ReadError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    ReadError {
        not_found: classify(err) == ErrorKind::NotFound,
        message: error_message(err),
    }
}

/// One object through a batch read shared with concurrent reads (see `coalesce`): `Some(None)`
/// when it does not exist, `None` after reporting an error naming `operation`.
pub async fn read_batched<V, F, Fut>(
    coalescer: &Arc<Coalescer<V>>,
    client: &elbv2::Client,
    arn: &str,
    operation: &str,
    diags: &mut Diagnostics,
    fetch: F,
) -> Option<Option<V>>
where
    V: Clone + Send + 'static,
    F: Fn(elbv2::Client, Vec<String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HashMap<String, V>, ReadError>> + Send + 'static,
{
    let client = client.clone();
    match coalescer.get(arn, move |arns| fetch(client.clone(), arns)).await {
        Ok(found) => Some(found),
        Err(e) => {
            diags.error(format!("{operation} failed"), e.message);
            None
        }
    }
}

/// DescribeTags for up to 20 objects, by ARN.
async fn describe_tags(client: elbv2::Client, arns: Vec<String>) -> Result<HashMap<String, BTreeMap<String, String>>, ReadError> {
    let out = client
        .describe_tags()
        .set_resource_arns(Some(arns))
        .send()
        .await
        .map_err(|e| read_error(&e))?;
    Ok(out
        .tag_descriptions()
        .iter()
        .filter_map(|d| {
            let tags = d
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .collect();
            Some((d.resource_arn()?.to_string(), tags))
        })
        .collect())
}

/// Tags of one object, or `None` after reporting an error. Read together with concurrent reads'
/// tags; in a refresh, answered from tags read ahead, and a call takes the tags of objects listings
/// found along (see `read_ahead`). An object gone since it was described has no tags.
pub async fn fetch_tags(ctx: &Elbv2Context, arn: &str, diags: &mut Diagnostics) -> Option<BTreeMap<String, String>> {
    let (reads, refresh) = (&ctx.reads, is_refresh());
    let epoch = reads.epoch.now();
    if refresh {
        if let Some(tags) = reads.tag_ahead.fresh(epoch, arn) {
            return Some(tags);
        }
    }
    let ahead = reads.tag_ahead.clone();
    let read = move |client: elbv2::Client, asked: Vec<String>| {
        let ahead = ahead.clone();
        async move {
            let mut arns = asked.clone();
            if refresh {
                ahead.fill(epoch, &mut arns);
            }
            let filled = arns.len() > asked.len();
            let found = match describe_tags(client.clone(), arns).await {
                // An object taken along may be gone, which fails the call: ask for the asked alone.
                Err(_) if filled => describe_tags(client, asked).await?,
                answer => answer?,
            };
            ahead.store(epoch, &found);
            Ok(found)
        }
    };
    read_batched(&reads.tags, &ctx.client, arn, "DescribeTags", diags, read)
        .await
        .map(Option::unwrap_or_default)
}

/// In a refresh, `arn` from a listing of `scope` (see `read_ahead`), which `list` reads when there
/// is no fresh one; `None` outside a refresh or when the listing does not hold it.
pub async fn from_listing<V, F, Fut>(ctx: &Elbv2Context, listings: &Listings<V>, scope: &str, arn: &str, list: F) -> Option<V>
where
    V: Clone,
    F: FnOnce(elbv2::Client) -> Fut,
    Fut: Future<Output = Option<Vec<(String, V)>>>,
{
    if !is_refresh() {
        return None;
    }
    let (client, ahead) = (ctx.client.clone(), &ctx.reads.tag_ahead);
    let listed = || async move {
        let found = list(client).await?;
        ahead.offer(found.iter().map(|(arn, _)| arn.clone()));
        Some(found)
    };
    listings.get(ctx.reads.epoch.now(), scope, arn, listed).await
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
