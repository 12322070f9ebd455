//! The action block shared by `elbv2_listener.default_action` and `elbv2_listener_rule.action`:
//! schema, cross-field rules, and pure conversions to and from the ELBv2 API types.

use tgbind_aws::elbv2::types::{
    Action, ActionTypeEnum, AuthenticateCognitoActionConditionalBehaviorEnum, AuthenticateCognitoActionConfig,
    AuthenticateOidcActionConditionalBehaviorEnum, AuthenticateOidcActionConfig, FixedResponseActionConfig, ForwardActionConfig,
    RedirectActionConfig, RedirectActionStatusCodeEnum, TargetGroupStickinessConfig, TargetGroupTuple,
};

use crate::framework::{validators as v, Attribute, Block, Diagnostics, NestedBlock};
use crate::resources::values::{i32_of, order_like, str_of};
use crate::tfvalue::{AttributePath, Value};

pub const ACTION_TYPES: &[&str] = &["forward", "redirect", "fixed-response", "authenticate-oidc", "authenticate-cognito"];
/// The actions that answer the request; every action list ends with exactly one of them, after
/// any authenticate actions.
const TERMINAL_TYPES: &[&str] = &["forward", "redirect", "fixed-response"];
/// Each action type's block (`forward` is optional: `target_group_arn` does it for one group).
const ACTION_BLOCKS: [(&str, &str); 5] = [
    ("forward", "forward"),
    ("redirect", "redirect"),
    ("fixed-response", "fixed_response"),
    ("authenticate-oidc", "authenticate_oidc"),
    ("authenticate-cognito", "authenticate_cognito"),
];

/// The arguments both authenticate actions have.
fn with_session_arguments(block: Block) -> Block {
    block
        .attribute(
            Attribute::string_map("authentication_request_extra_params")
                .description("Query parameters (at most 10) added to the redirect to the identity provider."),
        )
        .attribute(
            Attribute::string("on_unauthenticated_request")
                .optional_computed()
                .description("For a request without a session: `deny`, `allow` or `authenticate` (the default).")
                .validate(v::one_of(&["deny", "allow", "authenticate"])),
        )
        .attribute(
            Attribute::string("scope")
                .optional_computed()
                .description("Claims asked of the identity provider; default `openid`."),
        )
        .attribute(
            Attribute::string("session_cookie_name")
                .optional_computed()
                .description("Name of the session cookie; default `AWSELBAuthSessionCookie`."),
        )
        .attribute(
            Attribute::number("session_timeout")
                .optional_computed()
                .description("Seconds a session lasts, 1-604800; default 604800 (7 days).")
                .validate(v::int_between(1, 604_800)),
        )
}

/// The schema of one action block (named `default_action` or `action` by the resource).
pub fn action_block(name: &str) -> NestedBlock {
    let target_group = Block::new()
        .attribute(Attribute::string("arn").required().description("ARN of the target group."))
        .attribute(
            Attribute::number("weight")
                .default(1)
                .description("Share of requests, 0-999, relative to the other groups. Default 1.")
                .validate(v::int_between(0, 999)),
        );
    let stickiness = Block::new()
        .attribute(
            Attribute::bool("enabled")
                .default(false)
                .description("Whether a client keeps its target group. Default `false`."),
        )
        .attribute(
            Attribute::number("duration")
                .description("Seconds a client stays on its target group, 1-604800. Required when enabled.")
                .validate(v::int_between(1, 604_800)),
        );
    let forward = Block::new()
        .block(
            NestedBlock::list("target_group", target_group)
                .min_items(1)
                .max_items(5)
                .with_description("A target group and its weight; 1 to 5 of them."),
        )
        .block(
            NestedBlock::list("stickiness", stickiness)
                .max_items(1)
                .with_description("Target group stickiness."),
        );
    let redirect = Block::new()
        .attribute(
            Attribute::string("status_code")
                .required()
                .description("`HTTP_301` (permanent) or `HTTP_302` (temporary).")
                .validate(v::one_of(&["HTTP_301", "HTTP_302"])),
        )
        .attribute(
            Attribute::string("host")
                .default("#{host}")
                .description("Host name; default `#{host}` (unchanged)."),
        )
        .attribute(
            Attribute::string("path")
                .default("/#{path}")
                .description("Absolute path; default `/#{path}` (unchanged)."),
        )
        .attribute(
            Attribute::string("port")
                .default("#{port}")
                .description("Port; default `#{port}` (unchanged)."),
        )
        .attribute(
            Attribute::string("protocol")
                .default("#{protocol}")
                .description("`HTTP`, `HTTPS` or `#{protocol}` (the default, unchanged).")
                .validate(v::one_of(&["HTTP", "HTTPS", "#{protocol}"])),
        )
        .attribute(
            Attribute::string("query")
                .default("#{query}")
                .description("Query string without `?`; default `#{query}` (unchanged)."),
        );
    let fixed_response = Block::new()
        .attribute(
            Attribute::string("content_type")
                .required()
                .description("`text/plain`, `text/css`, `text/html`, `application/javascript` or `application/json`.")
                .validate(v::one_of(&[
                    "text/plain",
                    "text/css",
                    "text/html",
                    "application/javascript",
                    "application/json",
                ])),
        )
        .attribute(
            Attribute::string("message_body")
                .description("Body of the response, at most 1024 characters.")
                .validate(v::string_length(0, 1024)),
        )
        .attribute(
            Attribute::string("status_code")
                .optional_computed()
                .description("HTTP status code: 2XX, 4XX or 5XX.")
                .validate(v::matches(r"^[245]\d\d$", "must be a 2XX, 4XX or 5XX status code")),
        );
    let oidc = with_session_arguments(
        Block::new()
            .attribute(
                Attribute::string("authorization_endpoint")
                    .required()
                    .description("Authorization endpoint of the identity provider (an HTTPS URL)."),
            )
            .attribute(
                Attribute::string("client_id")
                    .required()
                    .description("OAuth 2.0 client identifier."),
            )
            .attribute(
                Attribute::string("client_secret")
                    .required()
                    .sensitive()
                    .description("OAuth 2.0 client secret. AWS never returns it: drift in it is not detected."),
            )
            .attribute(
                Attribute::string("issuer")
                    .required()
                    .description("OIDC issuer identifier of the identity provider (an HTTPS URL)."),
            )
            .attribute(
                Attribute::string("token_endpoint")
                    .required()
                    .description("Token endpoint of the identity provider (an HTTPS URL)."),
            )
            .attribute(
                Attribute::string("user_info_endpoint")
                    .required()
                    .description("User info endpoint of the identity provider (an HTTPS URL)."),
            ),
    );
    let cognito = with_session_arguments(
        Block::new()
            .attribute(
                Attribute::string("user_pool_arn")
                    .required()
                    .description("ARN of the Amazon Cognito user pool."),
            )
            .attribute(
                Attribute::string("user_pool_client_id")
                    .required()
                    .description("ID of the user pool's app client."),
            )
            .attribute(
                Attribute::string("user_pool_domain")
                    .required()
                    .description("Domain prefix or fully qualified domain of the user pool."),
            ),
    );
    let action = Block::new()
        .attribute(
            Attribute::string("type")
                .required()
                .description("`forward`, `redirect` or `fixed-response`, which answer the request, or `authenticate-oidc` / `authenticate-cognito` before one of them (HTTPS listeners).")
                .validate(v::one_of(ACTION_TYPES)),
        )
        .attribute(
            Attribute::number("order")
                .optional_computed()
                .description("Position among the actions, 1-50000; AWS assigns it when left out.")
                .validate(v::int_between(1, 50_000)),
        )
        .attribute(
            Attribute::string("target_group_arn")
                .description("For `forward` to a single target group. Use the `forward` block for weights or stickiness."),
        )
        .block(
            NestedBlock::list("forward", forward)
                .max_items(1)
                .with_description("For `forward` to weighted target groups."),
        )
        .block(
            NestedBlock::list("redirect", redirect)
                .max_items(1)
                .with_description("For `redirect`."),
        )
        .block(
            NestedBlock::list("fixed_response", fixed_response)
                .max_items(1)
                .with_description("For `fixed-response`."),
        )
        .block(
            NestedBlock::list("authenticate_oidc", oidc)
                .max_items(1)
                .with_description("For `authenticate-oidc`: users sign in with an OpenID Connect identity provider."),
        )
        .block(
            NestedBlock::list("authenticate_cognito", cognito)
                .max_items(1)
                .with_description("For `authenticate-cognito`: users sign in through an Amazon Cognito user pool."),
        );
    NestedBlock::list(name, action)
        .min_items(1)
        .with_description("What happens to the requests, in order: any authenticate actions, then one action that answers (forward, redirect or fixed response).")
}

/// Rules the schema cannot express, for the action blocks at `path` (e.g. `default_action`). They
/// decide from what is known at the first plan (see `framework::Check`): the action type, which
/// blocks and arguments are present (an unknown value is present), and literal flags. Whether two
/// ARNs are the same is left to [`check_values`], before the AWS call.
pub fn validate(actions: &Value, path: &AttributePath, diags: &mut Diagnostics) {
    validate_sequence(actions, path, diags);
    for (i, action) in actions.elements().iter().enumerate() {
        let at = path.index(i);
        let Some(kind) = action.get("type").as_str() else { continue };
        let has = |name: &str| !action.get(name).elements().is_empty() || action.get(name).is_unknown();
        if !ACTION_TYPES.contains(&kind) {
            continue;
        }
        // `forward` may also be written with `target_group_arn` alone.
        let needed = ACTION_BLOCKS.iter().find(|(t, _)| *t == kind && kind != "forward").map(|(_, b)| *b);
        for (_, block) in ACTION_BLOCKS {
            let wanted = Some(block) == needed || (kind == "forward" && block == "forward");
            if has(block) && !wanted {
                diags.error_at(
                    &at.child(block),
                    "Block does not match the action type",
                    format!("A `{block}` block does not belong in a {kind:?} action."),
                );
            }
        }
        let single = action.get("target_group_arn");
        if let Some(block) = needed {
            if !has(block) {
                diags.error_at(
                    &at.child("type"),
                    "Missing action block",
                    format!("A {kind:?} action needs a `{block}` block."),
                );
            }
            // As `aws_lb_listener` does: accepted and ignored (only forward actions send it).
            if !single.is_null() {
                diags.warning_at(
                    &at.child("target_group_arn"),
                    "Argument ignored for this action",
                    format!("`target_group_arn` is used by forward actions only; this {kind:?} action ignores it."),
                );
            }
            continue;
        }
        let fwd = action.first_block("forward");
        let groups = fwd.get("target_group");
        if !single.is_null() && has("forward") && groups.elements().len() > 1 {
            diags.error_at(
                &at.child("target_group_arn"),
                "Conflicting arguments",
                "With `target_group_arn`, a `forward` block may name only that target group; set one or the other.",
            );
        } else if single.is_null() && !has("forward") {
            diags.error_at(
                &at.child("type"),
                "Missing forward target",
                "A forward action needs `target_group_arn` or a `forward` block.",
            );
        }
        let st = fwd.first_block("stickiness");
        if st.get("enabled").as_bool() == Some(true) && st.get("duration").is_null() {
            diags.error_at(
                &at.child("forward").index(0).child("stickiness").index(0).child("duration"),
                "Missing stickiness duration",
                "Enabled target group stickiness needs `duration`.",
            );
        }
    }
}

/// Authenticate actions first, then exactly one action that answers, as AWS applies them: by
/// `order` where every action has one, otherwise as written.
fn validate_sequence(actions: &Value, path: &AttributePath, diags: &mut Diagnostics) {
    let items = actions.elements();
    let types: Option<Vec<&str>> = items.iter().map(|a| a.get("type").as_str()).collect();
    let Some(types) = types else { return };
    let orders: Option<Vec<i64>> = items.iter().map(|a| a.get("order").as_i64()).collect();
    let mut sequence: Vec<usize> = (0..items.len()).collect();
    if let Some(orders) = &orders {
        sequence.sort_by_key(|&i| orders[i]);
    }
    let terminal: Vec<usize> = sequence.iter().copied().filter(|&i| TERMINAL_TYPES.contains(&types[i])).collect();
    match terminal.as_slice() {
        [] if !items.is_empty() => diags.error_at(
            &path.index(items.len() - 1).child("type"),
            "Missing final action",
            "The actions must end with a forward, redirect or fixed-response action.",
        ),
        [only] if sequence.last() != Some(only) => diags.error_at(
            &path.index(*only).child("type"),
            "Action out of order",
            format!(
                "A {:?} action answers the request, so it must come last (after the authenticate actions).",
                types[*only]
            ),
        ),
        [_, extra, ..] => diags.error_at(
            &path.index(*extra).child("type"),
            "More than one final action",
            "Only one forward, redirect or fixed-response action may follow the authenticate actions.",
        ),
        _ => {}
    }
}

/// Rules on the ARNs of the planned action blocks, known only once the target groups exist: run
/// before the create or update call (see `framework::ApplyCheck`).
pub fn check_values(actions: &Value, path: &AttributePath, diags: &mut Diagnostics) {
    for (i, action) in actions.elements().iter().enumerate() {
        if action.get("type").as_str() != Some("forward") {
            continue;
        }
        let at = path.index(i);
        let arns: Vec<&str> = action
            .first_block("forward")
            .get("target_group")
            .elements()
            .iter()
            .filter_map(|t| t.get("arn").as_str())
            .collect();
        for (j, arn) in arns.iter().enumerate() {
            if arns[..j].contains(arn) {
                diags.error_at(
                    &at.child("forward").index(0).child("target_group").index(j).child("arn"),
                    "Duplicate target group",
                    format!("{arn} appears more than once in this forward action."),
                );
            }
        }
        if let (Some(single), [only]) = (action.get("target_group_arn").as_str(), arns.as_slice()) {
            if single != *only {
                diags.error_at(
                    &at.child("target_group_arn"),
                    "Conflicting arguments",
                    format!("`target_group_arn` is {single} but the `forward` block names {only}; name one target group."),
                );
            }
        }
    }
}

/// The API form of a planned action list. AWS needs `Order` when there are several actions: where
/// the configuration leaves it out, the position in the list gives it (1, 2, ...).
pub fn list_to_sdk(actions: &Value) -> Vec<Action> {
    let items = actions.elements();
    items
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut action = to_sdk(a);
            if items.len() > 1 && action.order.is_none() {
                action.order = Some(i as i32 + 1);
            }
            action
        })
        .collect()
}

/// The API form of one planned action block.
pub fn to_sdk(action: &Value) -> Action {
    let kind = action.get("type").as_str().unwrap_or("forward");
    let builder = Action::builder()
        .r#type(ActionTypeEnum::from(kind))
        .set_order(i32_of(action.get("order")));
    match kind {
        "redirect" => {
            let r = action.first_block("redirect");
            builder
                .redirect_config(
                    RedirectActionConfig::builder()
                        .set_host(str_of(r.get("host")))
                        .set_path(str_of(r.get("path")))
                        .set_port(str_of(r.get("port")))
                        .set_protocol(str_of(r.get("protocol")))
                        .set_query(str_of(r.get("query")))
                        .set_status_code(str_of(r.get("status_code")).map(|s| RedirectActionStatusCodeEnum::from(s.as_str())))
                        .build(),
                )
                .build()
        }
        "authenticate-oidc" => {
            let a = action.first_block("authenticate_oidc");
            let config = AuthenticateOidcActionConfig::builder()
                .set_authorization_endpoint(str_of(a.get("authorization_endpoint")))
                .set_client_id(str_of(a.get("client_id")))
                .set_client_secret(str_of(a.get("client_secret")))
                .set_issuer(str_of(a.get("issuer")))
                .set_token_endpoint(str_of(a.get("token_endpoint")))
                .set_user_info_endpoint(str_of(a.get("user_info_endpoint")))
                .set_authentication_request_extra_params(extra_params(a))
                .set_on_unauthenticated_request(
                    str_of(a.get("on_unauthenticated_request")).map(|s| AuthenticateOidcActionConditionalBehaviorEnum::from(s.as_str())),
                )
                .set_scope(str_of(a.get("scope")))
                .set_session_cookie_name(str_of(a.get("session_cookie_name")))
                .set_session_timeout(a.get("session_timeout").as_i64())
                .build();
            builder.authenticate_oidc_config(config).build()
        }
        "authenticate-cognito" => {
            let a = action.first_block("authenticate_cognito");
            let config = AuthenticateCognitoActionConfig::builder()
                .set_user_pool_arn(str_of(a.get("user_pool_arn")))
                .set_user_pool_client_id(str_of(a.get("user_pool_client_id")))
                .set_user_pool_domain(str_of(a.get("user_pool_domain")))
                .set_authentication_request_extra_params(extra_params(a))
                .set_on_unauthenticated_request(
                    str_of(a.get("on_unauthenticated_request")).map(|s| AuthenticateCognitoActionConditionalBehaviorEnum::from(s.as_str())),
                )
                .set_scope(str_of(a.get("scope")))
                .set_session_cookie_name(str_of(a.get("session_cookie_name")))
                .set_session_timeout(a.get("session_timeout").as_i64())
                .build();
            builder.authenticate_cognito_config(config).build()
        }
        "fixed-response" => {
            let f = action.first_block("fixed_response");
            builder
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .set_content_type(str_of(f.get("content_type")))
                        .set_message_body(str_of(f.get("message_body")))
                        .set_status_code(str_of(f.get("status_code")))
                        .build(),
                )
                .build()
        }
        _ => {
            let fwd = action.first_block("forward");
            if fwd.is_null() {
                return builder.set_target_group_arn(str_of(action.get("target_group_arn"))).build();
            }
            let groups = fwd
                .get("target_group")
                .elements()
                .iter()
                .map(|t| {
                    TargetGroupTuple::builder()
                        .set_target_group_arn(str_of(t.get("arn")))
                        .weight(i32_of(t.get("weight")).unwrap_or(1))
                        .build()
                })
                .collect();
            let st = fwd.first_block("stickiness");
            let stickiness = st.is_set().then(|| {
                TargetGroupStickinessConfig::builder()
                    .enabled(st.get("enabled").as_bool().unwrap_or(false))
                    .set_duration_seconds(i32_of(st.get("duration")))
                    .build()
            });
            builder
                .forward_config(
                    ForwardActionConfig::builder()
                        .set_target_groups(Some(groups))
                        .set_target_group_stickiness_config(stickiness)
                        .build(),
                )
                .build()
        }
    }
}

fn extra_params(block: &Value) -> Option<std::collections::HashMap<String, String>> {
    let params = block.get("authentication_request_extra_params");
    params.is_set().then(|| params.as_string_map().into_iter().collect())
}

/// The session arguments of an authenticate block as AWS reports them.
fn session_values(
    extra: Option<&std::collections::HashMap<String, String>>,
    on_unauthenticated: Option<&str>,
    scope: Option<&str>,
    cookie: Option<&str>,
    timeout: Option<i64>,
) -> [(&'static str, Value); 5] {
    [
        (
            "authentication_request_extra_params",
            extra
                .filter(|m| !m.is_empty())
                .map_or(Value::Null, |m| Value::string_map(m.clone())),
        ),
        ("on_unauthenticated_request", Value::opt_string(on_unauthenticated)),
        ("scope", Value::opt_string(scope)),
        ("session_cookie_name", Value::opt_string(cookie)),
        ("session_timeout", Value::opt_i64(timeout)),
    ]
}

fn opt_i32(n: Option<i32>) -> Value {
    Value::opt_i64(n.map(i64::from))
}

/// The block value for an action AWS reports. `prior` (the state's or plan's block, null on
/// import) decides between the two ways of writing a forward to one group, and whether the
/// optional stickiness block is shown.
pub fn from_sdk(action: &Action, prior: &Value) -> Value {
    let kind = action.r#type().map(|t| t.as_str().to_string()).unwrap_or_default();
    let mut forward = Vec::new();
    let mut redirect = Vec::new();
    let mut fixed_response = Vec::new();
    let mut authenticate_oidc = Vec::new();
    let mut authenticate_cognito = Vec::new();
    let mut target_group_arn = Value::Null;
    match kind.as_str() {
        "authenticate-oidc" => {
            if let Some(c) = action.authenticate_oidc_config() {
                // AWS does not return the secret: the configured one stays.
                let prior_secret = prior.first_block("authenticate_oidc").get("client_secret").clone();
                let secret = if prior_secret.is_set() {
                    prior_secret
                } else {
                    Value::opt_string(c.client_secret())
                };
                let mut fields = vec![
                    ("authorization_endpoint", Value::opt_string(c.authorization_endpoint())),
                    ("client_id", Value::opt_string(c.client_id())),
                    ("client_secret", secret),
                    ("issuer", Value::opt_string(c.issuer())),
                    ("token_endpoint", Value::opt_string(c.token_endpoint())),
                    ("user_info_endpoint", Value::opt_string(c.user_info_endpoint())),
                ];
                fields.extend(session_values(
                    c.authentication_request_extra_params(),
                    c.on_unauthenticated_request().map(|b| b.as_str()),
                    c.scope(),
                    c.session_cookie_name(),
                    c.session_timeout(),
                ));
                authenticate_oidc.push(Value::object(fields));
            }
        }
        "authenticate-cognito" => {
            if let Some(c) = action.authenticate_cognito_config() {
                let mut fields = vec![
                    ("user_pool_arn", Value::opt_string(c.user_pool_arn())),
                    ("user_pool_client_id", Value::opt_string(c.user_pool_client_id())),
                    ("user_pool_domain", Value::opt_string(c.user_pool_domain())),
                ];
                fields.extend(session_values(
                    c.authentication_request_extra_params(),
                    c.on_unauthenticated_request().map(|b| b.as_str()),
                    c.scope(),
                    c.session_cookie_name(),
                    c.session_timeout(),
                ));
                authenticate_cognito.push(Value::object(fields));
            }
        }
        "forward" => {
            let config = action.forward_config();
            let mut groups: Vec<(String, i64)> = config
                .map(|c| {
                    c.target_groups()
                        .iter()
                        .filter_map(|t| Some((t.target_group_arn()?.to_string(), i64::from(t.weight().unwrap_or(1)))))
                        .collect()
                })
                .unwrap_or_default();
            if groups.is_empty() {
                groups.extend(action.target_group_arn().map(|a| (a.to_string(), 1)));
            }
            let sticky = config.and_then(|c| c.target_group_stickiness_config());
            let sticky_on = sticky.and_then(|s| s.enabled()).unwrap_or(false);
            let prior_forward = prior.first_block("forward");
            let simple = groups.len() == 1 && groups[0].1 == 1 && !sticky_on;
            let prior_used_single = prior.get("target_group_arn").is_set();
            // The configuration's form: the ARN, a forward block, or both naming one group.
            let show_single = groups.len() == 1 && (prior_used_single || (simple && prior_forward.is_null()));
            if show_single {
                target_group_arn = Value::string(&groups[0].0);
            }
            if !simple || !prior_forward.is_null() || !show_single {
                let items = groups
                    .into_iter()
                    .map(|(arn, weight)| Value::object([("arn", Value::string(arn)), ("weight", Value::int(weight))]))
                    .collect();
                let items = order_like(prior_forward.get("target_group").elements(), items, |p, r| {
                    p.get("arn") == r.get("arn")
                });
                let stickiness = if prior_forward.first_block("stickiness").is_set() || sticky_on {
                    vec![Value::object([
                        ("enabled", Value::Bool(sticky_on)),
                        ("duration", opt_i32(sticky.and_then(|s| s.duration_seconds()))),
                    ])]
                } else {
                    Vec::new()
                };
                forward.push(Value::object([
                    ("target_group", Value::List(items)),
                    ("stickiness", Value::List(stickiness)),
                ]));
            }
        }
        "redirect" | "fixed-response" => {
            // Ignored by AWS for these actions; kept as configured so the plan stays empty.
            target_group_arn = prior.get("target_group_arn").clone();
            fill_redirect_or_fixed(action, &mut redirect, &mut fixed_response);
        }
        _ => {}
    }
    Value::object([
        ("type", Value::string(kind)),
        ("order", opt_i32(action.order())),
        ("target_group_arn", target_group_arn),
        ("forward", Value::List(forward)),
        ("redirect", Value::List(redirect)),
        ("fixed_response", Value::List(fixed_response)),
        ("authenticate_oidc", Value::List(authenticate_oidc)),
        ("authenticate_cognito", Value::List(authenticate_cognito)),
    ])
}

fn fill_redirect_or_fixed(action: &Action, redirect: &mut Vec<Value>, fixed_response: &mut Vec<Value>) {
    match action.r#type().map(|t| t.as_str()) {
        Some("redirect") => {
            if let Some(r) = action.redirect_config() {
                redirect.push(Value::object([
                    ("host", Value::opt_string(r.host())),
                    ("path", Value::opt_string(r.path())),
                    ("port", Value::opt_string(r.port())),
                    ("protocol", Value::opt_string(r.protocol())),
                    ("query", Value::opt_string(r.query())),
                    ("status_code", Value::opt_string(r.status_code().map(|s| s.as_str()))),
                ]));
            }
        }
        Some("fixed-response") => {
            if let Some(f) = action.fixed_response_config() {
                fixed_response.push(Value::object([
                    ("content_type", Value::opt_string(f.content_type())),
                    ("message_body", Value::opt_string(f.message_body())),
                    ("status_code", Value::opt_string(f.status_code())),
                ]));
            }
        }
        _ => {}
    }
}

/// The action blocks for a list AWS reports, sorted by `order` as AWS applies them.
pub fn list_from_sdk(actions: &[Action], prior: &Value) -> Value {
    let mut sorted: Vec<&Action> = actions.iter().collect();
    sorted.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    let prior_items = prior.elements();
    Value::List(
        sorted
            .into_iter()
            .enumerate()
            .map(|(i, a)| from_sdk(a, prior_items.get(i).unwrap_or(&Value::Null)))
            .collect(),
    )
}

/// ARNs of the target groups an action list forwards to.
pub fn target_group_arns(actions: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for a in actions.elements() {
        out.extend(str_of(a.get("target_group_arn")));
        for t in a.first_block("forward").get("target_group").elements() {
            out.extend(str_of(t.get("arn")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward_single(arn: &str) -> Value {
        Value::object([
            ("type", Value::string("forward")),
            ("order", Value::Null),
            ("target_group_arn", Value::string(arn)),
            ("forward", Value::List(vec![])),
            ("redirect", Value::List(vec![])),
            ("fixed_response", Value::List(vec![])),
            ("authenticate_oidc", Value::List(vec![])),
            ("authenticate_cognito", Value::List(vec![])),
        ])
    }

    fn weighted(groups: &[(&str, i64)]) -> Value {
        let tg = groups
            .iter()
            .map(|(a, w)| Value::object([("arn", Value::string(*a)), ("weight", Value::int(*w))]))
            .collect();
        let mut v = forward_single("x");
        v.set("target_group_arn", Value::Null);
        v.set(
            "forward",
            Value::List(vec![Value::object([
                ("target_group", Value::List(tg)),
                ("stickiness", Value::List(vec![])),
            ])]),
        );
        v
    }

    fn errors(actions: Vec<Value>) -> Vec<String> {
        let mut d = Diagnostics::new();
        validate(&Value::List(actions), &AttributePath::attr("default_action"), &mut d);
        d.error_paths()
    }

    fn value_errors(actions: Vec<Value>) -> Vec<String> {
        let mut d = Diagnostics::new();
        check_values(&Value::List(actions), &AttributePath::attr("default_action"), &mut d);
        d.error_paths()
    }

    #[test]
    fn forward_needs_exactly_one_way_to_name_groups() {
        assert!(errors(vec![forward_single("a")]).is_empty());
        assert!(errors(vec![weighted(&[("a", 1), ("b", 2)])]).is_empty());
        // The ARN and a forward block naming one group: accepted (as by `aws_lb_listener`); whether
        // it is the same group is checked before the AWS call, when the ARNs are known.
        let mut both = weighted(&[("a", 1)]);
        both.set("target_group_arn", Value::string("a"));
        assert!(errors(vec![both.clone()]).is_empty());
        assert!(value_errors(vec![both.clone()]).is_empty());
        both.set("target_group_arn", Value::string("b"));
        assert_eq!(value_errors(vec![both]), ["default_action[0].target_group_arn"]);
        let mut two = weighted(&[("a", 1), ("b", 1)]);
        two.set("target_group_arn", Value::Unknown);
        assert_eq!(
            errors(vec![two]),
            ["default_action[0].target_group_arn"],
            "an unknown ARN is present"
        );
        let mut none = forward_single("a");
        none.set("target_group_arn", Value::Null);
        assert_eq!(errors(vec![none]), ["default_action[0].type"]);
        // Duplicate ARNs are a matter of values: not a validation error, an apply-time one.
        assert!(errors(vec![weighted(&[("a", 1), ("a", 2)])]).is_empty());
        assert_eq!(
            value_errors(vec![weighted(&[("a", 1), ("a", 2)])]),
            ["default_action[0].forward[0].target_group[1].arn"]
        );
    }

    #[test]
    fn redirect_needs_its_block_and_ignores_a_target_group_arn() {
        let mut r = forward_single("a");
        r.set("type", Value::string("redirect"));
        assert_eq!(errors(vec![r.clone()]), ["default_action[0].type"]);
        let mut d = Diagnostics::new();
        validate(&Value::List(vec![r]), &AttributePath::attr("default_action"), &mut d);
        assert_eq!(d.warning_paths(), ["default_action[0].target_group_arn"]);
    }

    #[test]
    fn round_trip_keeps_the_users_form() {
        // A single forward comes back from AWS as both an ARN and a one-group forward config.
        let planned = forward_single("tg-a");
        let mut sdk = to_sdk(&planned);
        sdk.forward_config = Some(
            ForwardActionConfig::builder()
                .target_groups(TargetGroupTuple::builder().target_group_arn("tg-a").weight(1).build())
                .target_group_stickiness_config(TargetGroupStickinessConfig::builder().enabled(false).build())
                .build(),
        );
        sdk.order = Some(1);
        let back = from_sdk(&sdk, &planned);
        assert_eq!(back.get("target_group_arn"), &Value::string("tg-a"));
        assert!(back.get("forward").elements().is_empty());

        // Weighted groups keep the configuration's order even when AWS lists them differently.
        let planned = weighted(&[("b", 10), ("a", 90)]);
        let mut sdk = to_sdk(&planned);
        if let Some(cfg) = sdk.forward_config.as_mut() {
            cfg.target_groups.as_mut().unwrap().reverse();
        }
        let back = from_sdk(&sdk, &planned);
        let arns: Vec<_> = back
            .first_block("forward")
            .get("target_group")
            .elements()
            .iter()
            .map(|t| t.get("arn").clone())
            .collect();
        assert_eq!(arns, vec![Value::string("b"), Value::string("a")]);
        // On import (no prior), weights other than 1 need the forward block.
        assert!(from_sdk(&sdk, &Value::Null).get("target_group_arn").is_null());
    }
}
