//! `elbv2_target_group` end to end: the real Terraform CLI (1.0.3, and the newer one on PATH) drives
//! the provider binary against a real moto_server.

mod support;

use std::collections::HashMap;

use support::aws::{group_count, tg_attributes as attributes};
use support::{terraforms, Moto, Workdir};

/// Every argument of the resource, so the empty re-plan covers each of them.
fn full_http_group(vpc: &str, name: &str, port: u16, interval: u32, delay: u32, tag: &str) -> String {
    format!(
        r#"
resource "elbv2_target_group" "app" {{
  name                          = "{name}"
  port                          = {port}
  protocol                      = "HTTP"
  protocol_version              = "HTTP1"
  vpc_id                        = "{vpc}"
  target_type                   = "ip"
  ip_address_type               = "ipv4"
  deregistration_delay          = {delay}
  slow_start                    = 30
  load_balancing_algorithm_type = "least_outstanding_requests"

  health_check {{
    enabled             = true
    path                = "/healthz"
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200-299"
    interval            = {interval}
    timeout             = 5
    healthy_threshold   = 3
    unhealthy_threshold = 2
  }}

  stickiness {{
    type            = "lb_cookie"
    enabled         = true
    cookie_duration = 3600
  }}

  tags = {{ app = "{tag}" }}
}}

output "arn" {{ value = elbv2_target_group.app.arn }}
output "arn_suffix" {{ value = elbv2_target_group.app.arn_suffix }}
"#
    )
}

#[tokio::test]
async fn lifecycle_create_replan_update_replace_destroy() {
    for tf in terraforms() {
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let w = Workdir::new(&tf, &moto);

        w.write_config(&full_http_group(&vpc, "app-tg", 8080, 10, 30, "v1"));
        w.apply();
        let arn = w.output("arn");
        assert!(arn.contains(":targetgroup/app-tg/"), "{arn}");
        assert_eq!(
            w.output("arn_suffix"),
            arn.split_once(":targetgroup/").map(|(_, r)| format!("targetgroup/{r}")).unwrap()
        );
        let attrs = attributes(&moto, &arn).await;
        assert_eq!(attrs["deregistration_delay.timeout_seconds"], "30");
        assert_eq!(attrs["stickiness.type"], "lb_cookie");
        w.assert_no_changes("right after create");

        // In place: health check, attributes and tags.
        w.write_config(&full_http_group(&vpc, "app-tg", 8080, 15, 60, "v2"));
        let plan = w.plan_json();
        assert!(plan.updates_in_place("elbv2_target_group.app"), "[{}] {}", tf.version, plan.0);
        w.apply();
        assert_eq!(w.output("arn"), arn, "an in-place update keeps the group");
        assert_eq!(attributes(&moto, &arn).await["deregistration_delay.timeout_seconds"], "60");
        let tg = moto
            .elbv2()
            .await
            .describe_target_groups()
            .target_group_arns(&arn)
            .send()
            .await
            .unwrap();
        assert_eq!(tg.target_groups()[0].health_check_interval_seconds(), Some(15));
        w.assert_no_changes("after update");

        // Replace: the port cannot change in place.
        w.write_config(&full_http_group(&vpc, "app-tg", 8081, 15, 60, "v2"));
        let plan = w.plan_json();
        assert!(plan.replaces("elbv2_target_group.app"), "{}", plan.0);
        assert_eq!(plan.replace_paths("elbv2_target_group.app"), ["port"], "{}", plan.0);
        w.apply();
        let new_arn = w.output("arn");
        assert_ne!(new_arn, arn);
        assert_eq!(group_count(&moto).await, 1, "the old group is gone");
        w.assert_no_changes("after replace");

        let run = w.terraform(&["destroy", "-auto-approve", "-no-color"]);
        assert!(run.ok, "{}", run.all());
        assert_eq!(group_count(&moto).await, 0);
    }
}

#[tokio::test]
async fn minimal_and_network_groups_plan_empty_after_apply() {
    for tf in terraforms() {
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let w = Workdir::new(&tf, &moto);
        w.write_config(&format!(
            r#"
resource "elbv2_target_group" "minimal" {{
  port     = 80
  protocol = "HTTP"
  vpc_id   = "{vpc}"
}}

resource "elbv2_target_group" "prefixed" {{
  name_prefix = "web-"
  port        = 80
  protocol    = "HTTP"
  vpc_id      = "{vpc}"
  target_type = "ip"
  tags        = {{}}
}}

resource "elbv2_target_group" "nlb" {{
  name               = "nlb-tg"
  port               = 443
  protocol           = "TCP"
  vpc_id             = "{vpc}"
  target_type        = "ip"
  preserve_client_ip = true
  proxy_protocol_v2  = true

  health_check {{
    protocol = "TCP"
    interval = 10
  }}

  stickiness {{
    type = "source_ip"
  }}
}}

output "generated" {{ value = elbv2_target_group.minimal.name }}
output "prefixed" {{ value = elbv2_target_group.prefixed.name }}
"#
        ));
        w.apply();
        assert!(w.output("generated").starts_with("tf-"));
        assert!(w.output("prefixed").starts_with("web-"));
        w.assert_no_changes("after creating minimal, prefixed and TCP groups");
    }
}

#[tokio::test]
async fn import_by_arn_then_plan_is_empty() {
    for tf in terraforms() {
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let client = moto.elbv2().await;
        let created = client
            .create_target_group()
            .name("imported")
            .port(9000)
            .protocol(tgbind_aws::elbv2::types::ProtocolEnum::Http)
            .vpc_id(&vpc)
            .target_type(tgbind_aws::elbv2::types::TargetTypeEnum::Ip)
            .health_check_path("/ready")
            .send()
            .await
            .unwrap();
        let arn = created.target_groups()[0].target_group_arn().unwrap().to_string();

        let w = Workdir::new(&tf, &moto);
        w.write_config(&format!(
            r#"
resource "elbv2_target_group" "imported" {{
  name        = "imported"
  port        = 9000
  protocol    = "HTTP"
  vpc_id      = "{vpc}"
  target_type = "ip"
  health_check {{
    path = "/ready"
  }}
}}
"#
        ));
        let bad = w.terraform(&["import", "-no-color", "elbv2_target_group.imported", "not-an-arn"]);
        assert!(!bad.ok && bad.all().contains("is not a target group ARN"), "{}", bad.all());

        let run = w.terraform(&["import", "-no-color", "elbv2_target_group.imported", &arn]);
        assert!(run.ok, "[{}] import failed: {}", tf.version, run.all());
        w.assert_no_changes("right after import");
    }
}

#[tokio::test]
async fn drift_shows_in_plan_and_deleted_group_is_recreated() {
    for tf in terraforms() {
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let w = Workdir::new(&tf, &moto);
        w.write_config(&full_http_group(&vpc, "drift-tg", 80, 10, 30, "v1"));
        w.apply();
        let arn = w.output("arn");
        let client = moto.elbv2().await;

        client
            .modify_target_group_attributes()
            .target_group_arn(&arn)
            .attributes(
                tgbind_aws::elbv2::types::TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value("45")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let plan = w.plan_json();
        assert_eq!(
            plan.attribute("elbv2_target_group.app", "deregistration_delay"),
            (serde_json::json!(45), serde_json::json!(30)),
            "[{}] {}",
            tf.version,
            plan.0
        );
        w.apply();
        w.assert_no_changes("after correcting drift");

        client.delete_target_group().target_group_arn(&arn).send().await.unwrap();
        let plan = w.plan_json();
        assert_eq!(plan.actions("elbv2_target_group.app"), ["create"], "{}", plan.0);
        w.apply();
        assert_ne!(w.output("arn"), arn);
        assert_eq!(group_count(&moto).await, 1);
    }
}

/// Each bad configuration fails before anything is created, with a diagnostic that names the
/// attribute (Terraform prints the offending line).
#[tokio::test]
async fn bad_configs_fail_with_attribute_diagnostics_and_create_nothing() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"name = "bad_name!"  port = 80  protocol = "HTTP"  vpc_id = "VPC""#,
            "only letters, digits and hyphens",
            "name",
        ),
        (
            r#"name = "a-name-that-is-far-too-long-for-aws-1"  port = 80  protocol = "HTTP"  vpc_id = "VPC""#,
            "between 1 and 32",
            "name",
        ),
        (
            r#"port = 80  protocol = "HTTP"  vpc_id = "VPC"  slow_start = 10"#,
            "must be 0 or between 30 and 900",
            "slow_start",
        ),
        (
            r#"port = 80  protocol = "HTTP"  vpc_id = "VPC"  deregistration_delay = 4000"#,
            "between 0 and 3600",
            "deregistration_delay",
        ),
        (r#"port = 70000  protocol = "HTTP"  vpc_id = "VPC""#, "between 1 and 65535", "port"),
        (r#"port = 80  protocol = "HTTPX"  vpc_id = "VPC""#, "is not one of", "protocol"),
        // An absent attribute has no line to point at; the message names it.
        (r#"protocol = "HTTP"  vpc_id = "VPC""#, "`port` is required", ""),
        (
            r#"port = 80  protocol = "TCP"  vpc_id = "VPC"  slow_start = 60"#,
            "applies to HTTP and HTTPS groups",
            "slow_start",
        ),
        (
            r#"port = 80  protocol = "HTTP"  vpc_id = "VPC"  proxy_protocol_v2 = true"#,
            "applies to TCP, TLS, UDP and TCP_UDP",
            "proxy_protocol_v2",
        ),
        (
            r#"port = 80  protocol = "HTTP"  vpc_id = "VPC"  health_check { protocol = "TCP" }"#,
            "check health over HTTP or HTTPS",
            "protocol",
        ),
        (
            r#"port = 80  protocol = "HTTP"  vpc_id = "VPC"  health_check { interval = 5  timeout = 5 }"#,
            "must be shorter than the interval",
            "timeout",
        ),
        (
            r#"port = 80  protocol = "TCP"  vpc_id = "VPC"  stickiness { type = "lb_cookie" }"#,
            "needs an HTTP or HTTPS group",
            "type",
        ),
        (
            r#"port = 80  protocol = "HTTP"  vpc_id = "VPC"  stickiness { type = "app_cookie" }"#,
            "needs `cookie_name`",
            "stickiness",
        ),
        (
            r#"target_type = "lambda"  port = 80"#,
            "must not be set when `target_type` is \"lambda\"",
            "port",
        ),
        (
            r#"name = "x"  name_prefix = "y"  port = 80  protocol = "HTTP"  vpc_id = "VPC""#,
            "not both",
            "name_prefix",
        ),
        (r#"arn = "arn:x"  port = 80  protocol = "HTTP"  vpc_id = "VPC""#, "", "arn"),
    ];
    for tf in terraforms() {
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let w = Workdir::new(&tf, &moto);
        for (args, expected, attribute) in cases {
            let body = args
                .replace("VPC", &vpc)
                .replace("  ", "\n  ")
                .replace("{ ", "{\n    ")
                .replace(" }", "\n  }");
            w.write_config(&format!("resource \"elbv2_target_group\" \"bad\" {{\n  {body}\n}}\n"));
            let run = w.terraform(&["apply", "-auto-approve", "-no-color", "-input=false"]);
            let all = run.all();
            assert!(!run.ok, "[{}] expected failure for {args}:\n{all}", tf.version);
            assert!(all.contains("Error"), "{all}");
            assert!(all.contains(expected), "[{}] {args}: expected {expected:?} in:\n{all}", tf.version);
            // Terraform quotes the configuration line of the attribute the diagnostic points at.
            assert!(
                attribute.is_empty() || all.contains(&format!("{attribute} ")) || all.contains(&format!("{attribute}\n")),
                "[{}] {args}: no pointer at {attribute:?}:\n{all}",
                tf.version
            );
            assert_eq!(group_count(&moto).await, 0, "a bad config created something: {args}");
        }
    }
}

/// A state written by schema version 0 (deregistration_delay as a string, as `aws_lb_target_group`
/// stores it) is upgraded on the next plan.
#[tokio::test]
async fn version_0_state_is_upgraded() {
    for tf in terraforms() {
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let created = moto
            .elbv2()
            .await
            .create_target_group()
            .name("legacy")
            .port(80)
            .protocol(tgbind_aws::elbv2::types::ProtocolEnum::Http)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        let arn = created.target_groups()[0].target_group_arn().unwrap().to_string();
        let w = Workdir::new(&tf, &moto);
        w.write_config(&format!("resource \"elbv2_target_group\" \"legacy\" {{\n  name     = \"legacy\"\n  port     = 80\n  protocol = \"HTTP\"\n  vpc_id   = \"{vpc}\"\n}}\n"));
        let state = serde_json::json!({
            "version": 4, "terraform_version": "1.0.3", "serial": 1, "lineage": "b6a7e3c4-0000-4000-8000-000000000000", "outputs": {},
            "resources": [{
                "mode": "managed", "type": "elbv2_target_group", "name": "legacy",
                "provider": "provider[\"registry.terraform.io/tgbind/elbv2\"]",
                "instances": [{ "schema_version": 0, "attributes": {
                    "arn": arn, "id": arn, "name": "legacy", "port": 80, "protocol": "HTTP", "vpc_id": vpc,
                    "target_type": "instance", "deregistration_delay": "300", "slow_start": 0, "proxy_protocol_v2": false,
                    "protocol_version": "HTTP1", "ip_address_type": "ipv4", "health_check": [], "stickiness": []
                }}]
            }]
        });
        w.write_raw("terraform.tfstate", &serde_json::to_string_pretty(&state).unwrap());
        w.assert_no_changes("after upgrading a version 0 state");
        let refreshed = w.terraform(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
        assert!(refreshed.ok, "{}", refreshed.all());
        let pulled: serde_json::Value = serde_json::from_str(&w.terraform(&["state", "pull"]).stdout).unwrap();
        let instance = &pulled["resources"][0]["instances"][0];
        assert_eq!(instance["schema_version"], 1, "{instance}");
        assert_eq!(instance["attributes"]["deregistration_delay"], 300, "{instance}");
    }
}

/// The provider block's `assume_role` (through moto's STS) and `default_tags`: default tags land on
/// the group, show in `tags_all` only, and a change to them is an in-place update.
#[tokio::test]
async fn assume_role_and_default_tags() {
    for tf in terraforms() {
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let w = Workdir::new(&tf, &moto);
        let provider = |team: &str| {
            format!(
                "  assume_role {{\n    role_arn     = \"arn:aws:iam::123456789012:role/tgbind-test\"\n    session_name = \"tests\"\n  }}\n  default_tags {{\n    tags = {{ team = \"{team}\" }}\n  }}"
            )
        };
        let body = format!(
            "resource \"elbv2_target_group\" \"t\" {{\n  name = \"tagged\"\n  port = 80\n  protocol = \"HTTP\"\n  vpc_id = \"{vpc}\"\n  tags = {{ app = \"web\" }}\n}}\noutput \"arn\" {{ value = elbv2_target_group.t.arn }}\n"
        );
        w.write_config_with_provider(&provider("platform"), &body);
        w.apply();
        let arn = w.output("arn");
        let tags = moto.elbv2().await.describe_tags().resource_arns(&arn).send().await.unwrap();
        let tags: HashMap<String, String> = tags.tag_descriptions()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
            .collect();
        assert_eq!(tags.get("team").map(String::as_str), Some("platform"), "{tags:?}");
        assert_eq!(tags.get("app").map(String::as_str), Some("web"), "{tags:?}");
        w.assert_no_changes("with default tags");

        w.write_config_with_provider(&provider("payments"), &body);
        let plan = w.plan_json();
        assert!(plan.updates_in_place("elbv2_target_group.t"), "[{}] {}", tf.version, plan.0);
        let (before, after) = plan.attribute("elbv2_target_group.t", "tags_all");
        assert_eq!(
            (&before["team"], &after["team"]),
            (&serde_json::json!("platform"), &serde_json::json!("payments"))
        );
        assert!(
            !plan.changes_attribute("elbv2_target_group.t", "tags"),
            "only tags_all changes: {}",
            plan.0
        );
        w.apply();
        w.assert_no_changes("after changing default tags");
    }
}
