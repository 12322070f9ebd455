//! Parity with terraform-provider-aws's `aws_lb*` where users meet it, with the real Terraform CLI
//! (every version `terraforms()` finds) against moto:
//! - a failed apply never strands what it created: a value that turns out invalid only once other
//!   resources exist fails that one resource, and `terraform destroy` still cleans up;
//! - the leniency of `aws_lb*` where AWS accepts the input;
//! - import of objects made outside Terraform plans empty against the matching minimal
//!   configuration, with and without the optional blocks.

mod support;

use support::aws::inventory;
use support::{terraforms, Moto, Workdir};

fn network(moto: &Moto) -> (String, String) {
    let subnets = moto.default_subnets();
    (moto.default_vpc(), format!("[\"{}\", \"{}\"]", subnets[0], subnets[1]))
}

#[tokio::test]
async fn a_value_invalid_only_at_apply_fails_its_resource_and_destroy_still_cleans_up() {
    for tf in terraforms() {
        let moto = Moto::start();
        let (vpc, subnets) = network(&moto);
        let w = Workdir::new(&tf, &moto);
        // The target group's name is known only once the load balancer exists, and is too long;
        // the listener forwards twice to one group, known only once the group exists.
        w.write_config(&format!(
            r#"
resource "elbv2_load_balancer" "lb" {{
  name    = "strand"
  subnets = {subnets}
}}

resource "elbv2_target_group" "long" {{
  name     = "${{elbv2_load_balancer.lb.arn_suffix}}-far-too-long-for-a-target-group"
  port     = 80
  protocol = "HTTP"
  vpc_id   = "{vpc}"
}}

resource "elbv2_target_group" "ok" {{
  name     = "strand-ok"
  port     = 80
  protocol = "HTTP"
  vpc_id   = "{vpc}"
}}

resource "elbv2_listener" "twice" {{
  load_balancer_arn = elbv2_load_balancer.lb.arn
  port              = 80
  protocol          = "HTTP"
  default_action {{
    type = "forward"
    forward {{
      target_group {{
        arn = elbv2_target_group.ok.arn
      }}
      target_group {{
        arn = elbv2_target_group.ok.arn
      }}
    }}
  }}
}}
"#
        ));
        let plan = w.terraform(&["plan", "-no-color", "-input=false"]);
        assert!(plan.ok, "terraform {}: the plan cannot know yet:\n{}", tf.version, plan.all());
        let apply = w.terraform(&["apply", "-auto-approve", "-no-color", "-input=false"]);
        assert!(!apply.ok, "terraform {}: apply should fail", tf.version);
        let out = apply.all();
        assert!(out.contains("name") && out.contains("Duplicate target group"), "{out}");
        let (lbs, groups, listeners, _) = inventory(&moto).await;
        assert_eq!((lbs, groups, listeners), (1, 1, 0), "terraform {}: {out}", tf.version);

        let destroy = w.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
        assert!(destroy.ok, "terraform {}: destroy is blocked:\n{}", tf.version, destroy.all());
        assert_eq!(inventory(&moto).await, (0, 0, 0, 0), "terraform {}", tf.version);
    }
}

#[tokio::test]
async fn aws_lb_leniency_redirect_with_a_target_group_and_forward_naming_the_same_group() {
    for tf in terraforms() {
        let moto = Moto::start();
        let (vpc, subnets) = network(&moto);
        let w = Workdir::new(&tf, &moto);
        w.write_config(&format!(
            r#"
resource "elbv2_load_balancer" "lb" {{
  name    = "lenient"
  subnets = {subnets}
}}

resource "elbv2_target_group" "tg" {{
  name     = "lenient"
  port     = 80
  protocol = "HTTP"
  vpc_id   = "{vpc}"
}}

resource "elbv2_listener" "redirect" {{
  load_balancer_arn = elbv2_load_balancer.lb.arn
  port              = 80
  protocol          = "HTTP"
  default_action {{
    type             = "redirect"
    target_group_arn = elbv2_target_group.tg.arn
    redirect {{
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }}
  }}
}}

resource "elbv2_listener" "both" {{
  load_balancer_arn = elbv2_load_balancer.lb.arn
  port              = 8080
  protocol          = "HTTP"
  default_action {{
    type             = "forward"
    target_group_arn = elbv2_target_group.tg.arn
    forward {{
      target_group {{
        arn = elbv2_target_group.tg.arn
      }}
    }}
  }}
}}
"#
        ));
        let apply = w.apply();
        assert!(apply.all().contains("Argument ignored for this action"), "{}", apply.all());
        w.assert_no_changes("lenient listeners right after apply");
        let destroy = w.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
        assert!(destroy.ok, "{}", destroy.all());
    }
}

#[tokio::test]
async fn aws_lb_leniency_gateway_load_balancers_nlb_idle_timeout_and_blank_names() {
    for tf in terraforms() {
        let moto = Moto::start();
        let (vpc, subnets) = network(&moto);
        let w = Workdir::new(&tf, &moto);
        w.write_config(&format!(
            r#"
resource "elbv2_load_balancer" "gateway" {{
  name               = "gateway"
  load_balancer_type = "gateway"
  subnets            = {subnets}
}}

resource "elbv2_target_group" "geneve" {{
  name     = "geneve"
  port     = 6081
  protocol = "GENEVE"
  vpc_id   = "{vpc}"
  health_check {{
    port     = 80
    protocol = "HTTP"
  }}
}}

resource "elbv2_listener" "gateway" {{
  load_balancer_arn = elbv2_load_balancer.gateway.arn
  default_action {{
    type             = "forward"
    target_group_arn = elbv2_target_group.geneve.arn
  }}
}}

resource "elbv2_load_balancer" "network" {{
  name               = "network"
  load_balancer_type = "network"
  subnets            = {subnets}
  idle_timeout       = 60
}}

resource "elbv2_target_group" "blank" {{
  name     = ""
  port     = 80
  protocol = "HTTP"
  vpc_id   = "{vpc}"
}}

output "blank_arn" {{
  value = elbv2_target_group.blank.arn
}}
"#
        ));
        let apply = w.apply();
        assert!(
            apply.all().contains("Argument ignored for this load balancer type"),
            "{}",
            apply.all()
        );
        w.assert_no_changes("gateway, NLB with idle_timeout and a blank name right after apply");
        let blank = w.output("blank_arn");
        assert!(blank.contains(":targetgroup/tf-"), "a generated name: {blank}");
        let elb = moto.elbv2().await;
        let lbs = elb.describe_load_balancers().send().await.unwrap();
        let gateway = lbs
            .load_balancers()
            .iter()
            .find(|l| l.load_balancer_name() == Some("gateway"))
            .unwrap();
        assert_eq!(gateway.r#type().map(|t| t.as_str()), Some("gateway"));
        let network = lbs
            .load_balancers()
            .iter()
            .find(|l| l.load_balancer_name() == Some("network"))
            .unwrap();
        let attributes = support::aws::lb_attributes(&moto, network.load_balancer_arn().unwrap()).await;
        assert!(!attributes.contains_key("idle_timeout.timeout_seconds"), "{attributes:?}");
        assert_eq!(support::aws::listeners(&moto, gateway.load_balancer_arn().unwrap()).await.len(), 1);
        let destroy = w.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
        assert!(destroy.ok, "{}", destroy.all());
        assert_eq!(inventory(&moto).await, (0, 0, 0, 0));
    }
}

/// Whether a Terraform version ("1.15.5") is at least `min` (major, minor).
fn at_least(version: &str, min: (u32, u32)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= min
}

/// Whether this Terraform lets a plan keep a block the configuration omits (1.11 and later), the
/// way terraform-provider-aws's optional-and-computed blocks behave.
fn keeps_omitted_blocks(version: &str) -> bool {
    at_least(version, (1, 11))
}

/// Objects made outside Terraform, as a console or another tool leaves them: `plain` ones with AWS's
/// defaults, `custom` ones with a health check, stickiness and access logs of their own.
async fn objects_made_outside_terraform(moto: &Moto, vpc: &str, subnets: &[String]) -> Vec<(&'static str, String)> {
    use tgbind_aws::elbv2::types::{LoadBalancerAttribute, ProtocolEnum, TargetGroupAttribute, TargetTypeEnum};
    let elb = moto.elbv2().await;
    let group = |name: &str, protocol: ProtocolEnum| {
        elb.create_target_group()
            .name(name)
            .port(80)
            .protocol(protocol)
            .vpc_id(vpc)
            .target_type(TargetTypeEnum::Ip)
    };
    let arn_of = |out: tgbind_aws::elbv2::operation::create_target_group::CreateTargetGroupOutput| {
        out.target_groups()[0].target_group_arn().unwrap().to_string()
    };
    let plain = arn_of(group("plain", ProtocolEnum::Http).send().await.unwrap());
    let plain_tcp = arn_of(group("plain-tcp", ProtocolEnum::Tcp).send().await.unwrap());
    let custom = arn_of(
        group("custom", ProtocolEnum::Http)
            .health_check_path("/healthz")
            .health_check_interval_seconds(15)
            .matcher(tgbind_aws::elbv2::types::Matcher::builder().http_code("200-299").build())
            .send()
            .await
            .unwrap(),
    );
    let attribute = |k: &str, v: &str| TargetGroupAttribute::builder().key(k).value(v).build();
    elb.modify_target_group_attributes()
        .target_group_arn(&custom)
        .attributes(attribute("stickiness.enabled", "true"))
        .attributes(attribute("stickiness.type", "lb_cookie"))
        .attributes(attribute("stickiness.lb_cookie.duration_seconds", "3600"))
        .send()
        .await
        .unwrap();
    let lb = |name: &str| elb.create_load_balancer().name(name).set_subnets(Some(subnets.to_vec()));
    let lb_arn = |out: tgbind_aws::elbv2::operation::create_load_balancer::CreateLoadBalancerOutput| {
        out.load_balancers()[0].load_balancer_arn().unwrap().to_string()
    };
    let plain_alb = lb_arn(lb("plain-alb").send().await.unwrap());
    let logging_alb = lb_arn(lb("logging-alb").send().await.unwrap());
    let attribute = |k: &str, v: &str| LoadBalancerAttribute::builder().key(k).value(v).build();
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(&logging_alb)
        .attributes(attribute("access_logs.s3.enabled", "true"))
        .attributes(attribute("access_logs.s3.bucket", "alb-logs"))
        .attributes(attribute("access_logs.s3.prefix", "front"))
        .send()
        .await
        .unwrap();
    vec![
        ("elbv2_target_group.plain", plain),
        ("elbv2_target_group.plain_tcp", plain_tcp),
        ("elbv2_target_group.custom", custom),
        ("elbv2_load_balancer.plain", plain_alb),
        ("elbv2_load_balancer.logging", logging_alb),
    ]
}

/// The minimal configuration of each object: its required arguments and, with `state_blocks`, its
/// optional blocks as AWS has them (for the plain ones, the defaults written out).
fn import_config(address: &str, vpc: &str, subnets: &str, state_blocks: bool) -> String {
    let group = |name: &str, protocol: &str, blocks: &str| {
        let blocks = if state_blocks { blocks } else { "" };
        format!(
            "resource \"elbv2_target_group\" \"{}\" {{\n  name = \"{name}\"\n  port = 80\n  protocol = \"{protocol}\"\n  vpc_id = \"{vpc}\"\n  target_type = \"ip\"\n{blocks}}}\n",
            name.replace('-', "_")
        )
    };
    let lb = |label: &str, name: &str, blocks: &str| {
        let blocks = if state_blocks { blocks } else { "" };
        format!("resource \"elbv2_load_balancer\" \"{label}\" {{\n  name = \"{name}\"\n  subnets = {subnets}\n{blocks}}}\n")
    };
    match address {
        "elbv2_target_group.plain" => group(
            "plain",
            "HTTP",
            "  health_check {\n    path = \"/\"\n    matcher = \"200\"\n  }\n  stickiness {\n    type = \"lb_cookie\"\n    enabled = false\n  }\n",
        ),
        "elbv2_target_group.plain_tcp" => group("plain-tcp", "TCP", "  health_check {\n    protocol = \"TCP\"\n  }\n"),
        "elbv2_target_group.custom" => group(
            "custom",
            "HTTP",
            "  health_check {\n    path = \"/healthz\"\n    interval = 15\n    matcher = \"200-299\"\n  }\n  stickiness {\n    type = \"lb_cookie\"\n    cookie_duration = 3600\n  }\n",
        ),
        "elbv2_load_balancer.plain" => lb("plain", "plain-alb", ""),
        "elbv2_load_balancer.logging" => lb(
            "logging",
            "logging-alb",
            "  access_logs {\n    bucket = \"alb-logs\"\n    prefix = \"front\"\n    enabled = true\n  }\n",
        ),
        other => panic!("no configuration for {other}"),
    }
}

#[tokio::test]
async fn import_plans_empty_against_minimal_configs_with_and_without_optional_blocks() {
    for tf in terraforms() {
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let subnet_ids = moto.default_subnets();
        let subnets = format!("[\"{}\", \"{}\"]", subnet_ids[0], subnet_ids[1]);
        let objects = objects_made_outside_terraform(&moto, &vpc, &subnet_ids[..2]).await;
        let every_case = keeps_omitted_blocks(&tf.version);
        for state_blocks in [false, true] {
            // Terraform before 1.11 plans blocks exactly as configured, so one import cannot suit
            // both shapes: there a configuration states what differs from AWS's defaults and
            // leaves the defaults out (see `Blocks::SwitchedOn`).
            let cases: Vec<_> = objects
                .iter()
                .filter(|(address, _)| every_case || address.contains(".plain") != state_blocks)
                .collect();
            let w = Workdir::new(&tf, &moto);
            let config: String = cases
                .iter()
                .map(|(address, _)| import_config(address, &vpc, &subnets, state_blocks))
                .collect();
            w.write_config(&config);
            for (address, arn) in &cases {
                let run = w.terraform(&["import", "-no-color", "-input=false", address, arn]);
                assert!(run.ok, "terraform {}: import {address}: {}", tf.version, run.all());
            }
            let what = if state_blocks {
                "configs stating the blocks"
            } else {
                "configs omitting the blocks"
            };
            w.assert_no_changes(&format!("terraform {}: right after import, {what}:\n{config}", tf.version));
        }
    }
}

/// A state file as Terraform writes it, holding resources that terraform-provider-aws (v5 and v6,
/// schema version 0 for these types) wrote.
fn aws_provider_state(resources: &[(&str, &str, serde_json::Value)]) -> String {
    let resources: Vec<_> = resources
        .iter()
        .map(|(ty, name, attributes)| {
            serde_json::json!({
                "mode": "managed",
                "type": ty,
                "name": name,
                "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                "instances": [{
                    "schema_version": 0,
                    "attributes": attributes,
                    "sensitive_attributes": [],
                    "private": "eyJzY2hlbWFfdmVyc2lvbiI6IjAifQ=="
                }]
            })
        })
        .collect();
    serde_json::json!({
        "version": 4,
        "terraform_version": "1.8.0",
        "serial": 3,
        "lineage": "0d5a4c8e-61c4-4f4e-9a55-2f1b0e1c9a31",
        "outputs": {},
        "resources": resources,
        "check_results": null
    })
    .to_string()
}

#[tokio::test]
async fn moved_blocks_take_over_terraform_provider_aws_state_and_plan_empty() {
    use tgbind_aws::elbv2::types::{ProtocolEnum, TargetTypeEnum};
    for tf in terraforms() {
        if !keeps_omitted_blocks(&tf.version) {
            // `moved` across resource types needs Terraform 1.8; the ones tested here are 1.11+.
            continue;
        }
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let subnet_ids = moto.default_subnets()[..2].to_vec();
        let elb = moto.elbv2().await;
        let group = elb
            .create_target_group()
            .name("app")
            .port(8080)
            .protocol(ProtocolEnum::Http)
            .vpc_id(&vpc)
            .target_type(TargetTypeEnum::Ip)
            .health_check_path("/healthz")
            .send()
            .await
            .unwrap();
        let group = group.target_groups()[0].clone();
        let group_arn = group.target_group_arn().unwrap().to_string();
        let lb = elb
            .create_load_balancer()
            .name("front")
            .set_subnets(Some(subnet_ids.clone()))
            .send()
            .await
            .unwrap();
        let lb = lb.load_balancers()[0].clone();
        let lb_arn = lb.load_balancer_arn().unwrap().to_string();
        // The attributes terraform-provider-aws v5 writes (strings where its schema has strings:
        // deregistration_delay, preserve_client_ip), including arguments we do not have.
        let group_state = serde_json::json!({
            "arn": group_arn, "arn_suffix": group_arn.split_once(":targetgroup/").map(|(_, s)| format!("targetgroup/{s}")),
            "connection_termination": null, "deregistration_delay": "300",
            "health_check": [{"enabled": true, "healthy_threshold": 5, "interval": 30, "matcher": "200",
                "path": "/healthz", "port": "traffic-port", "protocol": "HTTP", "timeout": 5, "unhealthy_threshold": 2}],
            "id": group_arn, "ip_address_type": "ipv4", "lambda_multi_value_headers_enabled": false,
            "load_balancer_arns": [], "load_balancing_algorithm_type": "round_robin",
            "load_balancing_anomaly_mitigation": "off", "load_balancing_cross_zone_enabled": "use_load_balancer_configuration",
            "name": "app", "name_prefix": "", "port": 8080, "preserve_client_ip": null, "protocol": "HTTP",
            "protocol_version": "HTTP1", "proxy_protocol_v2": false, "slow_start": 0,
            "stickiness": [{"cookie_duration": 86400, "cookie_name": "", "enabled": false, "type": "lb_cookie"}],
            "tags": {}, "tags_all": {}, "target_failover": [], "target_group_health": [], "target_health_state": [],
            "target_type": "ip", "vpc_id": vpc
        });
        let lb_state = serde_json::json!({
            "access_logs": [], "arn": lb_arn, "arn_suffix": lb_arn.split_once(":loadbalancer/").map(|(_, s)| s), "client_keep_alive": 3600,
            "connection_logs": [], "customer_owned_ipv4_pool": "", "desync_mitigation_mode": "defensive",
            "dns_name": lb.dns_name(), "dns_record_client_routing_policy": null, "drop_invalid_header_fields": false,
            "enable_cross_zone_load_balancing": true, "enable_deletion_protection": false, "enable_http2": true,
            "enable_tls_version_and_cipher_suite_headers": false, "enable_waf_fail_open": false,
            "enable_xff_client_port": false, "enable_zonal_shift": false,
            "enforce_security_group_inbound_rules_on_private_link_traffic": "", "id": lb_arn, "idle_timeout": 60,
            "internal": false, "ip_address_type": "ipv4", "load_balancer_type": "application", "name": "front",
            "name_prefix": "", "preserve_host_header": false, "security_groups": lb.security_groups(),
            "subnet_mapping": subnet_ids.iter().map(|s| serde_json::json!({"allocation_id": "", "ipv6_address": "",
                "outpost_id": "", "private_ipv4_address": "", "subnet_id": s})).collect::<Vec<_>>(),
            "subnets": subnet_ids, "tags": null, "tags_all": {}, "timeouts": null, "vpc_id": vpc,
            "xff_header_processing_mode": "append", "zone_id": lb.canonical_hosted_zone_id()
        });

        let forward = tgbind_aws::elbv2::types::Action::builder()
            .r#type(tgbind_aws::elbv2::types::ActionTypeEnum::Forward)
            .target_group_arn(&group_arn)
            .build();
        let listener = elb
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .port(80)
            .protocol(ProtocolEnum::Http)
            .default_actions(forward.clone())
            .send()
            .await
            .unwrap();
        let listener_arn = listener.listeners()[0].listener_arn().unwrap().to_string();
        let rule = elb
            .create_rule()
            .listener_arn(&listener_arn)
            .priority(10)
            .actions(forward)
            .conditions(
                tgbind_aws::elbv2::types::RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(
                        tgbind_aws::elbv2::types::PathPatternConditionConfig::builder()
                            .values("/api/*")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let rule_arn = rule.rules()[0].rule_arn().unwrap().to_string();
        // As v5 writes an action: every action block present, empty where unused.
        let action = serde_json::json!({"authenticate_cognito": [], "authenticate_oidc": [], "fixed_response": [],
            "forward": [], "order": 1, "redirect": [], "target_group_arn": group_arn, "type": "forward"});
        let listener_state = serde_json::json!({
            "alpn_policy": null, "arn": listener_arn, "certificate_arn": null, "default_action": [action],
            "id": listener_arn, "load_balancer_arn": lb_arn, "mutual_authentication": [], "port": 80,
            "protocol": "HTTP", "ssl_policy": "", "tags": {}, "tags_all": {}, "tcp_idle_timeout_seconds": null,
            "timeouts": null
        });
        let rule_state = serde_json::json!({
            "action": [action], "arn": rule_arn, "id": rule_arn, "listener_arn": listener_arn, "priority": 10,
            "condition": [{"host_header": [], "http_header": [], "http_request_method": [],
                "path_pattern": [{"values": ["/api/*"]}], "query_string": [], "source_ip": []}],
            "tags": null, "tags_all": {}
        });

        let stand_in = tempfile::tempdir().unwrap();
        let null_provider = std::path::Path::new(
            &std::env::var("TGBIND_CACHE").unwrap_or_else(|_| format!("{}/.cache/tgbind", std::env::var("HOME").unwrap())),
        )
        .join("bin/terraform-provider-null_v2.1.2_x4");
        // Terraform loads the provider a state names before it plans; a user has hashicorp/aws,
        // and here hashicorp/null's binary stands in for it (it is never asked about these types).
        std::os::unix::fs::symlink(&null_provider, stand_in.path().join("terraform-provider-aws")).unwrap();
        let provider_dir = std::path::Path::new(env!("CARGO_BIN_EXE_terraform-provider-elbv2"))
            .parent()
            .unwrap()
            .to_path_buf();
        let installation = format!(
            "  dev_overrides {{\n    \"tgbind/elbv2\" = \"{}\"\n    \"hashicorp/aws\" = \"{}\"\n  }}\n  direct {{}}\n",
            provider_dir.display(),
            stand_in.path().display()
        );
        let w = Workdir::with_installation(&tf, &moto, &installation);
        w.write_raw(
            "terraform.tfstate",
            &aws_provider_state(&[
                ("aws_lb_target_group", "app", group_state),
                ("aws_alb", "front", lb_state),
                ("aws_lb_listener", "http", listener_state),
                ("aws_alb_listener_rule", "api", rule_state),
            ]),
        );
        w.write_config(&format!(
            r#"
moved {{
  from = aws_lb_target_group.app
  to   = elbv2_target_group.app
}}

moved {{
  from = aws_alb.front
  to   = elbv2_load_balancer.front
}}

resource "elbv2_target_group" "app" {{
  name        = "app"
  port        = 8080
  protocol    = "HTTP"
  vpc_id      = "{vpc}"
  target_type = "ip"
  health_check {{
    path = "/healthz"
  }}
}}

resource "elbv2_load_balancer" "front" {{
  name    = "front"
  subnets = ["{}", "{}"]
}}

moved {{
  from = aws_lb_listener.http
  to   = elbv2_listener.http
}}

moved {{
  from = aws_alb_listener_rule.api
  to   = elbv2_listener_rule.api
}}

resource "elbv2_listener" "http" {{
  load_balancer_arn = elbv2_load_balancer.front.arn
  port              = 80
  protocol          = "HTTP"
  default_action {{
    type             = "forward"
    target_group_arn = elbv2_target_group.app.arn
  }}
}}

resource "elbv2_listener_rule" "api" {{
  listener_arn = elbv2_listener.http.arn
  priority     = 10
  action {{
    type             = "forward"
    target_group_arn = elbv2_target_group.app.arn
  }}
  condition {{
    path_pattern {{
      values = ["/api/*"]
    }}
  }}
}}
"#,
            subnet_ids[0], subnet_ids[1]
        ));
        // Terraform counts a move as a change; the resources themselves plan nothing.
        let plan = w.plan_json();
        for address in [
            "elbv2_target_group.app",
            "elbv2_load_balancer.front",
            "elbv2_listener.http",
            "elbv2_listener_rule.api",
        ] {
            assert_eq!(
                plan.actions(address),
                ["no-op"],
                "terraform {}: {address} after the move",
                tf.version
            );
        }
        let apply = w.apply();
        assert!(apply.all().contains("0 added, 0 changed, 0 destroyed"), "{}", apply.all());
        let state = w.terraform(&["state", "list"]);
        assert_eq!(
            state.stdout.split_whitespace().collect::<Vec<_>>(),
            [
                "elbv2_listener.http",
                "elbv2_listener_rule.api",
                "elbv2_load_balancer.front",
                "elbv2_target_group.app"
            ]
        );
        w.assert_no_changes(&format!("terraform {}: after the move", tf.version));
        // The objects are ours now: destroy removes them.
        let destroy = w.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
        assert!(destroy.ok, "{}", destroy.all());
        assert_eq!(inventory(&moto).await, (0, 0, 0, 0));
    }
}

#[tokio::test]
async fn arguments_of_current_aws_lb_resources_apply_read_back_and_plan_empty() {
    for tf in terraforms() {
        let moto = Moto::start();
        let (vpc, subnets) = network(&moto);
        let cert = moto.certificate("app.example.com");
        let sg = moto.default_security_group();
        let w = Workdir::new(&tf, &moto);
        let config = |desync: &str| {
            format!(
                r#"
resource "elbv2_load_balancer" "alb" {{
  name                                        = "every-arg"
  subnets                                     = {subnets}
  desync_mitigation_mode                      = "{desync}"
  enable_waf_fail_open                        = true
  enable_xff_client_port                      = true
  xff_header_processing_mode                  = "preserve"
  enable_tls_version_and_cipher_suite_headers = true
  preserve_host_header                        = true
  client_keep_alive                           = 7200
  enable_zonal_shift                          = true
  connection_logs {{
    bucket  = "connection-logs"
    prefix  = "alb"
    enabled = true
  }}
}}

resource "elbv2_load_balancer" "nlb" {{
  name                             = "every-arg-nlb"
  load_balancer_type               = "network"
  subnets                          = {subnets}
  security_groups                  = ["{sg}"]
  dns_record_client_routing_policy = "availability_zone_affinity"
  enforce_security_group_inbound_rules_on_private_link_traffic = "off"
}}

resource "elbv2_target_group" "tcp" {{
  name                   = "every-arg-tcp"
  port                   = 80
  protocol               = "TCP"
  vpc_id                 = "{vpc}"
  connection_termination = true
  target_health_state {{
    enable_unhealthy_connection_termination = false
    unhealthy_draining_interval             = 60
  }}
}}

resource "elbv2_target_group" "geneve" {{
  name     = "every-arg-geneve"
  port     = 6081
  protocol = "GENEVE"
  vpc_id   = "{vpc}"
  target_failover {{
    on_deregistration = "rebalance"
    on_unhealthy      = "rebalance"
  }}
}}

resource "elbv2_target_group" "lambda" {{
  name                               = "every-arg-lambda"
  target_type                        = "lambda"
  lambda_multi_value_headers_enabled = true
}}

resource "elbv2_target_group" "web" {{
  name     = "every-arg-web"
  port     = 80
  protocol = "HTTP"
  vpc_id   = "{vpc}"
  load_balancing_algorithm_type     = "weighted_random"
  load_balancing_anomaly_mitigation = "on"
  load_balancing_cross_zone_enabled = "true"
  target_group_health {{
    dns_failover {{
      minimum_healthy_targets_count = "2"
    }}
    unhealthy_state_routing {{
      minimum_healthy_targets_percentage = "50"
    }}
  }}
}}

resource "elbv2_listener" "tcp" {{
  load_balancer_arn        = elbv2_load_balancer.nlb.arn
  port                     = 80
  protocol                 = "TCP"
  tcp_idle_timeout_seconds = 600
  default_action {{
    type             = "forward"
    target_group_arn = elbv2_target_group.tcp.arn
  }}
}}

resource "elbv2_listener" "https" {{
  load_balancer_arn = elbv2_load_balancer.alb.arn
  port              = 443
  protocol          = "HTTPS"
  certificate_arn   = "{cert}"
  routing_http_response_server_enabled                      = false
  routing_http_response_x_frame_options_header_value        = "DENY"
  routing_http_request_x_amzn_tls_version_header_name       = "X-TLS-Version"
  default_action {{
    type = "authenticate-oidc"
    authenticate_oidc {{
      authorization_endpoint = "https://idp.example.com/authorize"
      client_id              = "app"
      client_secret          = "s3cret"
      issuer                 = "https://idp.example.com"
      token_endpoint         = "https://idp.example.com/token"
      user_info_endpoint     = "https://idp.example.com/userinfo"
      authentication_request_extra_params = {{
        prompt = "login"
      }}
    }}
  }}
  default_action {{
    type             = "forward"
    target_group_arn = elbv2_target_group.web.arn
  }}
}}

resource "elbv2_listener_rule" "admin" {{
  listener_arn = elbv2_listener.https.arn
  priority     = 10
  action {{
    type  = "authenticate-cognito"
    order = 1
    authenticate_cognito {{
      user_pool_arn       = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc"
      user_pool_client_id = "client"
      user_pool_domain    = "auth.example.com"
      session_timeout     = 3600
    }}
  }}
  action {{
    type  = "fixed-response"
    order = 2
    fixed_response {{
      content_type = "text/plain"
      message_body = "admins only"
      status_code  = "200"
    }}
  }}
  condition {{
    path_pattern {{
      values = ["/admin/*"]
    }}
  }}
}}
"#
            )
        };
        w.write_config(&config("strictest"));
        w.apply();
        w.assert_no_changes(&format!("terraform {}: every argument right after apply", tf.version));

        // What AWS holds: the attributes and the actions in order.
        let elb = moto.elbv2().await;
        let lbs = elb
            .describe_load_balancers()
            .names("every-arg")
            .names("every-arg-nlb")
            .send()
            .await
            .unwrap();
        let arn_of = |name: &str| {
            lbs.load_balancers()
                .iter()
                .find(|l| l.load_balancer_name() == Some(name))
                .unwrap()
                .load_balancer_arn()
                .unwrap()
                .to_string()
        };
        let alb = support::aws::lb_attributes(&moto, &arn_of("every-arg")).await;
        for (key, value) in [
            ("routing.http.desync_mitigation_mode", "strictest"),
            ("waf.fail_open.enabled", "true"),
            ("routing.http.xff_client_port.enabled", "true"),
            ("routing.http.xff_header_processing.mode", "preserve"),
            ("routing.http.x_amzn_tls_version_and_cipher_suite.enabled", "true"),
            ("routing.http.preserve_host_header.enabled", "true"),
            ("client_keep_alive.seconds", "7200"),
            ("zonal_shift.config.enabled", "true"),
            ("connection_logs.s3.enabled", "true"),
            ("connection_logs.s3.bucket", "connection-logs"),
        ] {
            assert_eq!(alb.get(key).map(String::as_str), Some(value), "{key}: {alb:?}");
        }
        let nlb = support::aws::lb_attributes(&moto, &arn_of("every-arg-nlb")).await;
        assert_eq!(
            nlb.get("dns_record.client_routing_policy").map(String::as_str),
            Some("availability_zone_affinity")
        );
        let groups = elb.describe_target_groups().names("every-arg-web").send().await.unwrap();
        let web = support::aws::tg_attributes(&moto, groups.target_groups()[0].target_group_arn().unwrap()).await;
        for (key, value) in [
            ("target_group_health.dns_failover.minimum_healthy_targets.count", "2"),
            (
                "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage",
                "50",
            ),
            ("load_balancing.algorithm.anomaly_mitigation", "on"),
            ("load_balancing.cross_zone.enabled", "true"),
        ] {
            assert_eq!(web.get(key).map(String::as_str), Some(value), "{key}: {web:?}");
        }
        let listeners = support::aws::listeners(&moto, &arn_of("every-arg")).await;
        let https_arn = listeners[0].listener_arn().unwrap();
        let attributes = elb.describe_listener_attributes().listener_arn(https_arn).send().await.unwrap();
        let https: std::collections::BTreeMap<_, _> = attributes
            .attributes()
            .iter()
            .map(|a| (a.key().unwrap(), a.value().unwrap()))
            .collect();
        assert_eq!(https.get("routing.http.response.server.enabled"), Some(&"false"), "{https:?}");
        assert_eq!(https.get("routing.http.response.x_frame_options.header_value"), Some(&"DENY"));
        assert_eq!(
            https.get("routing.http.request.x_amzn_tls_version.header_name"),
            Some(&"X-TLS-Version")
        );
        let nlb_listeners = support::aws::listeners(&moto, &arn_of("every-arg-nlb")).await;
        let attributes = elb
            .describe_listener_attributes()
            .listener_arn(nlb_listeners[0].listener_arn().unwrap())
            .send()
            .await
            .unwrap();
        assert!(attributes
            .attributes()
            .iter()
            .any(|a| a.key() == Some("tcp.idle_timeout.seconds") && a.value() == Some("600")));
        let types: Vec<_> = listeners[0]
            .default_actions()
            .iter()
            .map(|a| (a.order(), a.r#type().unwrap().as_str().to_string()))
            .collect();
        assert_eq!(
            types,
            [(Some(1), "authenticate-oidc".to_string()), (Some(2), "forward".to_string())]
        );

        // A change of one of them is an in-place update of that one attribute.
        w.write_config(&config("monitor"));
        let plan = w.plan_json();
        assert!(plan.updates_in_place("elbv2_load_balancer.alb"), "terraform {}", tf.version);
        assert!(plan.changes_attribute("elbv2_load_balancer.alb", "desync_mitigation_mode"));
        w.apply();
        w.assert_no_changes(&format!("terraform {}: after changing desync_mitigation_mode", tf.version));
        let destroy = w.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
        assert!(destroy.ok, "{}", destroy.all());
        assert_eq!(inventory(&moto).await, (0, 0, 0, 0));
    }
}

#[tokio::test]
async fn import_blocks_by_identity_and_identity_in_state() {
    use tgbind_aws::elbv2::types::{ProtocolEnum, TargetTypeEnum};
    for tf in terraforms() {
        if !at_least(&tf.version, (1, 12)) {
            continue; // resource identity is Terraform 1.12's
        }
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let created = moto
            .elbv2()
            .await
            .create_target_group()
            .name("by-identity")
            .port(80)
            .protocol(ProtocolEnum::Http)
            .vpc_id(&vpc)
            .target_type(TargetTypeEnum::Ip)
            .send()
            .await
            .unwrap();
        let arn = created.target_groups()[0].target_group_arn().unwrap().to_string();
        let w = Workdir::new(&tf, &moto);
        w.write_config(&format!(
            r#"
import {{
  to       = elbv2_target_group.app
  identity = {{
    arn = "{arn}"
  }}
}}

resource "elbv2_target_group" "app" {{
  name        = "by-identity"
  port        = 80
  protocol    = "HTTP"
  vpc_id      = "{vpc}"
  target_type = "ip"
}}
"#
        ));
        let apply = w.apply();
        assert!(apply.all().contains("1 imported"), "terraform {}: {}", tf.version, apply.all());
        let show = w.terraform(&["show", "-json"]);
        let state: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
        let resource = &state["values"]["root_module"]["resources"][0];
        assert_eq!(
            resource["identity"]["arn"],
            serde_json::json!(arn),
            "terraform {}: {resource}",
            tf.version
        );
        w.assert_no_changes(&format!("terraform {}: after an import by identity", tf.version));
    }
}

/// Adoption in one step (Terraform 1.14 and later): `terraform query` finds a load balancer made
/// outside Terraform (as the AWS Load Balancer Controller makes one from an Ingress) with its
/// listener, rule and target group; `-generate-config-out` writes resources and import blocks;
/// the plan imports all four and changes nothing; after apply, nothing is left to change.
#[tokio::test]
async fn terraform_query_lists_and_generated_config_adopts_with_an_empty_plan() {
    use tgbind_aws::elbv2::types::{Action, ActionTypeEnum, PathPatternConditionConfig, ProtocolEnum, RuleCondition, Tag, TargetTypeEnum};
    for tf in terraforms() {
        if !at_least(&tf.version, (1, 14)) {
            continue; // `terraform query` is Terraform 1.14's
        }
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let subnets = moto.default_subnets()[..2].to_vec();
        let elb = moto.elbv2().await;
        let tag = Tag::builder().key("elbv2.k8s.aws/cluster").value("prod").build();
        let lb = elb
            .create_load_balancer()
            .name("k8s-shop-web")
            .set_subnets(Some(subnets))
            .tags(tag.clone())
            .send()
            .await
            .unwrap();
        let lb_arn = lb.load_balancers()[0].load_balancer_arn().unwrap().to_string();
        let group = elb
            .create_target_group()
            .name("k8s-shop-web-80")
            .port(80)
            .protocol(ProtocolEnum::Http)
            .vpc_id(&vpc)
            .target_type(TargetTypeEnum::Ip)
            .tags(tag)
            .send()
            .await
            .unwrap();
        let group_arn = group.target_groups()[0].target_group_arn().unwrap().to_string();
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(&group_arn)
            .build();
        let listener = elb
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .port(80)
            .protocol(ProtocolEnum::Http)
            .default_actions(forward.clone())
            .send()
            .await
            .unwrap();
        let listener_arn = listener.listeners()[0].listener_arn().unwrap().to_string();
        elb.create_rule()
            .listener_arn(&listener_arn)
            .priority(5)
            .actions(forward)
            .conditions(
                RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(PathPatternConditionConfig::builder().values("/api/*").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();

        let w = Workdir::new(&tf, &moto);
        w.write_config("");
        w.write_raw(
            "adopt.tfquery.hcl",
            &format!(
                r#"
list "elbv2_load_balancer" "ingress" {{
  provider         = elbv2
  include_resource = true
  config {{
    tags = {{ "elbv2.k8s.aws/cluster" = "prod" }}
  }}
}}

list "elbv2_target_group" "ingress" {{
  provider         = elbv2
  include_resource = true
  config {{
    tags = {{ "elbv2.k8s.aws/cluster" = "prod" }}
  }}
}}

list "elbv2_listener" "ingress" {{
  provider         = elbv2
  include_resource = true
  config {{
    load_balancer_arn = "{lb_arn}"
  }}
}}

list "elbv2_listener_rule" "ingress" {{
  provider         = elbv2
  include_resource = true
  config {{
    listener_arn = "{listener_arn}"
  }}
}}
"#
            ),
        );
        let query = w.terraform(&["query", "-no-color", "-generate-config-out=generated.tf"]);
        assert!(query.ok, "terraform {} query: {}", tf.version, query.all());
        for name in ["k8s-shop-web", "k8s-shop-web-80"] {
            assert!(
                query.all().contains(name),
                "terraform {}: {name} not listed:\n{}",
                tf.version,
                query.all()
            );
        }
        let generated = std::fs::read_to_string(w.path().join("generated.tf")).unwrap();
        // The query file only describes the search; the plan needs the generated configuration.
        std::fs::remove_file(w.path().join("adopt.tfquery.hcl")).unwrap();
        let plan = w.terraform(&["plan", "-no-color", "-input=false"]);
        assert!(plan.ok, "terraform {}: {}\n{generated}", tf.version, plan.all());
        assert!(
            plan.all().contains("4 to import, 0 to add, 0 to change, 0 to destroy"),
            "terraform {}: the generated configuration does not plan a pure import:\n{}\n{generated}",
            tf.version,
            plan.all()
        );
        w.apply();
        w.assert_no_changes(&format!("terraform {}: after adopting the ingress's load balancer", tf.version));
    }
}
