//! `elbv2_load_balancer`, `elbv2_listener`, `elbv2_listener_rule` and the `elbv2_load_balancer`
//! data source end to end: the real Terraform CLI (1.0.3, and the newer one on PATH) drives the
//! provider binary against a real moto_server.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use support::aws::{lb_attributes, lb_count, listeners, rules};
use support::{terraforms, Moto, Workdir};
use tgbind_aws::elbv2::types::Action;

/// (target group ARN, weight) of a forward action.
fn weights(action: &Action) -> BTreeMap<String, i32> {
    action
        .forward_config()
        .map(|f| {
            f.target_groups()
                .iter()
                .map(|t| (t.target_group_arn().unwrap().to_string(), t.weight().unwrap_or(1)))
                .collect()
        })
        .unwrap_or_default()
}

/// A working directory for an example: moto's endpoint and region come from the environment,
/// as they would for a user pointing the example at an emulator.
fn example_workdir(tf: &support::Terraform, moto: &Moto, example: &str) -> Workdir {
    let mut w = Workdir::new(tf, moto);
    w.copy_example(example);
    w.set_env("AWS_ENDPOINT_URL", &moto.endpoint());
    w.set_env("AWS_REGION", "us-east-1");
    w
}

fn write_vars(w: &Workdir, moto: &Moto, cert: &str, blue_weight: u32) {
    let subnets = moto.default_subnets();
    let vars = serde_json::json!({
        "vpc_id": moto.default_vpc(),
        "subnet_ids": &subnets[..2],
        "security_group_ids": [moto.default_security_group()],
        "certificate_arn": cert,
        "blue_weight": blue_weight,
    });
    w.write_raw("terraform.tfvars.json", &vars.to_string());
}

/// examples/alb-https as a user runs it: apply, an empty re-plan, a blue/green weight shift,
/// import of every resource type with an empty plan after it, and destroy.
#[tokio::test]
async fn alb_https_example_applies_shifts_weights_imports_and_destroys() {
    for tf in terraforms() {
        let moto = Moto::start();
        let cert = moto.certificate("www.example.com");
        let w = example_workdir(&tf, &moto, "alb-https");
        write_vars(&w, &moto, &cert, 100);
        let fmt = w.terraform(&["fmt", "-check", "-diff", "-no-color"]);
        assert!(fmt.ok, "examples/alb-https is not terraform fmt clean:\n{}", fmt.all());
        w.apply();
        w.assert_no_changes("alb-https right after apply");

        let lb_arn = w.output("load_balancer_arn");
        assert_eq!(lb_attributes(&moto, &lb_arn).await["idle_timeout.timeout_seconds"], "120");
        let https_arn = w.output("https_listener_arn");
        let all = listeners(&moto, &lb_arn).await;
        let https = all.iter().find(|l| l.port() == Some(443)).expect("HTTPS listener");
        assert_eq!(https.certificates()[0].certificate_arn(), Some(cert.as_str()));
        let http = all.iter().find(|l| l.port() == Some(80)).expect("HTTP listener");
        let redirect = http.default_actions()[0].redirect_config().expect("HTTP redirects");
        assert_eq!((redirect.protocol(), redirect.port()), (Some("HTTPS"), Some("443")));
        let w100: Vec<i32> = weights(&https.default_actions()[0]).values().copied().collect();
        assert_eq!(w100.iter().sum::<i32>(), 100);
        assert!(w100.contains(&100) && w100.contains(&0), "{w100:?}");
        let mut priorities: Vec<String> = rules(&moto, &https_arn)
            .await
            .iter()
            .map(|r| r.priority().unwrap().to_string())
            .collect();
        priorities.sort();
        assert_eq!(priorities, ["10", "20"]);

        // Shift 70% of the traffic to green: an in-place listener update.
        write_vars(&w, &moto, &cert, 30);
        let plan = w.plan_json();
        let (_, change, destroy) = plan.counts();
        assert!(change == 1 && destroy == 0, "{}", plan.0);
        w.apply();
        w.assert_no_changes("after the weight shift");
        let https = listeners(&moto, &lb_arn).await.into_iter().find(|l| l.port() == Some(443)).unwrap();
        let mut w30: Vec<i32> = weights(&https.default_actions()[0]).values().copied().collect();
        w30.sort();
        assert_eq!(w30, [30, 70]);

        // Drift: someone sends all traffic to one group in the console; the plan puts the weights back.
        let first_group = weights(&https.default_actions()[0]).keys().next().unwrap().clone();
        let all_to_first = tgbind_aws::elbv2::types::Action::builder()
            .r#type(tgbind_aws::elbv2::types::ActionTypeEnum::Forward)
            .target_group_arn(&first_group)
            .build();
        moto.elbv2()
            .await
            .modify_listener()
            .listener_arn(&https_arn)
            .default_actions(all_to_first)
            .send()
            .await
            .unwrap();
        let plan = w.plan_json();
        assert!(plan.updates_in_place("elbv2_listener.https"), "{}", plan.0);
        w.apply();
        let https = listeners(&moto, &lb_arn).await.into_iter().find(|l| l.port() == Some(443)).unwrap();
        let mut restored: Vec<i32> = weights(&https.default_actions()[0]).values().copied().collect();
        restored.sort();
        assert_eq!(restored, [30, 70], "drift repaired");
        w.assert_no_changes("after repairing listener drift");

        // Import every resource type back by ARN: the plan afterwards is empty.
        let api_rule = rules(&moto, &https_arn)
            .await
            .into_iter()
            .find(|r| r.priority() == Some("10"))
            .unwrap()
            .rule_arn()
            .unwrap()
            .to_string();
        for (address, arn) in [
            ("elbv2_load_balancer.web", lb_arn.as_str()),
            ("elbv2_listener.https", https_arn.as_str()),
            ("elbv2_listener_rule.api", api_rule.as_str()),
        ] {
            let rm = w.terraform(&["state", "rm", address]);
            assert!(rm.ok, "{}", rm.all());
            let import = w.terraform(&["import", "-no-color", "-input=false", address, arn]);
            assert!(import.ok, "[{}] import {address}: {}", tf.version, import.all());
        }
        w.assert_no_changes("after importing the balancer, listener and rule");
        let bad = w.terraform(&["import", "-no-color", "-input=false", "elbv2_listener.http", &lb_arn]);
        assert!(!bad.ok && bad.all().contains("is not a listener ARN"), "{}", bad.all());

        let destroy = w.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
        assert!(destroy.ok, "{}", destroy.all());
        assert_eq!(lb_count(&moto).await, 0);
        let groups = moto.elbv2().await.describe_target_groups().send().await.unwrap();
        assert!(groups.target_groups().is_empty(), "target groups left behind");
    }
}

fn full_alb(subnets: &[String], sg: &str, idle: u32, protect: bool, team: &str) -> String {
    format!(
        r#"
resource "elbv2_load_balancer" "alb" {{
  name                       = "full-alb"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = ["{}", "{}"]
  security_groups            = ["{sg}"]
  ip_address_type            = "ipv4"
  idle_timeout               = {idle}
  enable_deletion_protection = {protect}
  enable_http2               = false
  drop_invalid_header_fields = true

  access_logs {{
    bucket  = "logs"
    prefix  = "alb"
    enabled = true
  }}

  timeouts {{
    create = "5m"
    delete = "5m"
  }}

  tags = {{ team = "{team}" }}
}}

resource "elbv2_load_balancer" "nlb" {{
  name_prefix                      = "nlb-"
  load_balancer_type               = "network"
  internal                         = true
  enable_cross_zone_load_balancing = true

  subnet_mapping {{
    subnet_id = "{}"
  }}
}}

data "elbv2_load_balancer" "by_name" {{
  name = elbv2_load_balancer.alb.name
}}

data "elbv2_load_balancer" "by_tags" {{
  tags = {{ team = "{team}" }}
  depends_on = [elbv2_load_balancer.alb]
}}

output "alb_arn" {{ value = elbv2_load_balancer.alb.arn }}
output "nlb_arn" {{ value = elbv2_load_balancer.nlb.arn }}
output "nlb_name" {{ value = elbv2_load_balancer.nlb.name }}
output "arn_suffix" {{ value = elbv2_load_balancer.alb.arn_suffix }}
output "dns" {{ value = data.elbv2_load_balancer.by_name.dns_name }}
output "found_by_tags" {{ value = data.elbv2_load_balancer.by_tags.arn }}
output "logs_bucket" {{ value = data.elbv2_load_balancer.by_name.access_logs[0].bucket }}
output "vpc" {{ value = elbv2_load_balancer.alb.vpc_id }}
"#,
        subnets[0], subnets[1], subnets[2]
    )
}

/// Every argument of the load balancer plans empty after apply; in-place changes, drift, the
/// network balancer's replacement on subnet changes, the data source, and deletion protection.
#[tokio::test]
async fn load_balancers_every_argument_drift_replacement_and_deletion_protection() {
    for tf in terraforms() {
        let moto = Moto::start();
        let subnets = moto.default_subnets();
        let sg = moto.default_security_group();
        let w = Workdir::new(&tf, &moto);
        w.write_config(&full_alb(&subnets, &sg, 90, true, "web"));
        w.apply();
        w.assert_no_changes("every load balancer argument");
        let alb = w.output("alb_arn");
        assert!(w.output("nlb_name").starts_with("nlb-"));
        assert!(w.output("arn_suffix").starts_with("app/full-alb/"));
        assert_eq!(w.output("found_by_tags"), alb);
        assert_eq!(w.output("logs_bucket"), "logs");
        assert_eq!(w.output("vpc"), moto.default_vpc());
        assert!(!w.output("dns").is_empty());
        let attrs = lb_attributes(&moto, &alb).await;
        assert_eq!(attrs["idle_timeout.timeout_seconds"], "90");
        assert_eq!(attrs["routing.http2.enabled"], "false");
        assert_eq!(attrs["routing.http.drop_invalid_header_fields.enabled"], "true");
        assert_eq!(attrs["access_logs.s3.prefix"], "alb");
        let nlb = w.output("nlb_arn");
        assert_eq!(lb_attributes(&moto, &nlb).await["load_balancing.cross_zone.enabled"], "true");

        // In place: idle timeout and tags.
        w.write_config(&full_alb(&subnets, &sg, 30, true, "platform"));
        let plan = w.plan_json();
        assert_eq!(plan.counts(), (0, 1, 0), "{}", plan.0);
        w.apply();
        w.assert_no_changes("after the in-place update");
        assert_eq!(w.output("alb_arn"), alb, "updated in place");
        assert_eq!(lb_attributes(&moto, &alb).await["idle_timeout.timeout_seconds"], "30");

        // Drift: someone turns HTTP/2 back on in the console.
        let client = moto.elbv2().await;
        client
            .modify_load_balancer_attributes()
            .load_balancer_arn(&alb)
            .attributes(
                tgbind_aws::elbv2::types::LoadBalancerAttribute::builder()
                    .key("routing.http2.enabled")
                    .value("true")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let plan = w.plan_json();
        assert!(plan.changes_attribute("elbv2_load_balancer.alb", "enable_http2"), "{}", plan.0);
        w.apply();
        assert_eq!(lb_attributes(&moto, &alb).await["routing.http2.enabled"], "false");

        // A network balancer's subnets cannot change in place.
        let moved = full_alb(&subnets, &sg, 30, true, "platform").replace(
            &format!("subnet_mapping {{\n    subnet_id = \"{}\"", subnets[2]),
            &format!("subnet_mapping {{\n    subnet_id = \"{}\"", subnets[3]),
        );
        w.write_config(&moved);
        let plan = w.plan_json();
        assert!(plan.replaces("elbv2_load_balancer.nlb"), "{}", plan.0);

        // Deletion protection: destroy fails with a clear message and deletes nothing.
        let destroy = w.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
        assert!(!destroy.ok, "destroy of a protected balancer succeeded");
        assert!(destroy.all().contains("Deletion protection is on"), "{}", destroy.all());
        assert!(destroy.all().contains("enable_deletion_protection = false"), "{}", destroy.all());
        let left = client.describe_load_balancers().load_balancer_arns(&alb).send().await;
        assert!(left.is_ok(), "the protected balancer is gone");
        w.write_config(&full_alb(&subnets, &sg, 30, false, "platform"));
        w.apply();
        let destroy = w.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
        assert!(destroy.ok, "{}", destroy.all());
        assert_eq!(lb_count(&moto).await, 0);

        // A lookup that matches nothing fails.
        w.write_config("data \"elbv2_load_balancer\" \"x\" {\n  name = \"nope\"\n}\n");
        let run = w.terraform(&["plan", "-no-color"]);
        assert!(!run.ok && run.all().contains("No matching load balancer"), "{}", run.all());
    }
}

fn listener_with_rules(subnets: &[String], rule_count: usize) -> String {
    format!(
        r#"
resource "elbv2_load_balancer" "lb" {{
  name    = "rules"
  subnets = ["{}", "{}"]
}}

resource "elbv2_target_group" "tg" {{
  count       = 2
  name        = "rules-${{count.index}}"
  port        = 8080
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = "VPC"
}}

resource "elbv2_listener" "http" {{
  load_balancer_arn = elbv2_load_balancer.lb.arn
  port              = 80

  default_action {{
    type = "fixed-response"

    fixed_response {{
      content_type = "text/plain"
      message_body = "no route"
      status_code  = "404"
    }}
  }}
}}

# No priorities: each gets the next free one, although Terraform creates them in parallel.
resource "elbv2_listener_rule" "auto" {{
  count        = {rule_count}
  listener_arn = elbv2_listener.http.arn

  action {{
    type             = "forward"
    target_group_arn = elbv2_target_group.tg[count.index % 2].arn
  }}

  condition {{
    path_pattern {{
      values = ["/r${{count.index}}/*"]
    }}
  }}
}}

# Every kind of condition, and a weighted forward with stickiness.
resource "elbv2_listener_rule" "all_conditions" {{
  listener_arn = elbv2_listener.http.arn
  priority     = 1000

  action {{
    type = "forward"

    forward {{
      target_group {{
        arn    = elbv2_target_group.tg[0].arn
        weight = 80
      }}
      target_group {{
        arn = elbv2_target_group.tg[1].arn
      }}
      stickiness {{
        enabled  = true
        duration = 600
      }}
    }}
  }}

  condition {{
    host_header {{
      values = ["api.example.com", "*.api.example.com"]
    }}
  }}
  condition {{
    http_header {{
      http_header_name = "X-Canary"
      values           = ["yes"]
    }}
  }}
  condition {{
    http_request_method {{
      values = ["GET", "HEAD"]
    }}
  }}
  condition {{
    query_string {{
      key   = "version"
      value = "2"
    }}
    query_string {{
      value = "beta"
    }}
  }}
  condition {{
    source_ip {{
      values = ["10.0.0.0/8"]
    }}
  }}

  tags = {{ kind = "all" }}
}}

output "listener" {{ value = elbv2_listener.http.arn }}
"#,
        subnets[0], subnets[1]
    )
}

/// Rules without a priority, created in parallel, all get distinct priorities (one also taken by
/// hand before); every condition kind and a weighted sticky forward plan empty after apply; drift
/// and an explicit priority clash are reported.
#[tokio::test]
async fn listener_rules_parallel_priorities_conditions_and_drift() {
    const RULES: usize = 12;
    for tf in terraforms() {
        let moto = Moto::start();
        let vpc = moto.default_vpc();
        let subnets = moto.default_subnets();
        let w = Workdir::new(&tf, &moto);
        w.write_config(&listener_with_rules(&subnets, RULES).replace("VPC", &vpc));
        let run = w.terraform(&["apply", "-auto-approve", "-no-color", "-input=false", "-parallelism=16"]);
        assert!(run.ok, "[{}] {}", tf.version, run.all());
        w.assert_no_changes("rules with every condition kind");
        let listener = w.output("listener");
        let created = rules(&moto, &listener).await;
        assert_eq!(created.len(), RULES + 1);
        let priorities: BTreeSet<String> = created.iter().map(|r| r.priority().unwrap().to_string()).collect();
        assert_eq!(priorities.len(), RULES + 1, "priorities collide: {priorities:?}");

        // Drift: a rule deleted by hand comes back; a changed action is put back.
        let victim = created.iter().find(|r| r.priority() != Some("1000")).unwrap();
        let client = moto.elbv2().await;
        client.delete_rule().rule_arn(victim.rule_arn().unwrap()).send().await.unwrap();
        let plan = w.plan_json();
        assert_eq!(plan.counts().0, 1, "{}", plan.0);
        w.apply();
        assert_eq!(rules(&moto, &listener).await.len(), RULES + 1);

        // An explicit priority that another rule holds: a clear error at `priority`.
        let clash = format!(
            "{}\nresource \"elbv2_listener_rule\" \"clash\" {{\n  listener_arn = elbv2_listener.http.arn\n  priority     = 1000\n\n  action {{\n    type = \"redirect\"\n\n    redirect {{\n      status_code = \"HTTP_302\"\n      path        = \"/new\"\n    }}\n  }}\n\n  condition {{\n    path_pattern {{\n      values = [\"/old\"]\n    }}\n  }}\n}}\n",
            listener_with_rules(&subnets, RULES).replace("VPC", &vpc)
        );
        w.write_config(&clash);
        let run = w.terraform(&["apply", "-auto-approve", "-no-color", "-input=false"]);
        assert!(!run.ok && run.all().contains("Priority in use"), "{}", run.all());
        assert_eq!(rules(&moto, &listener).await.len(), RULES + 1, "the clashing rule must not exist");
    }
}

/// The working pattern for replacing a target group a listener uses (the `ResourceInUse` trap of
/// `aws_lb_target_group`): `name_prefix` + `create_before_destroy` replaces it with no error and the
/// listener ends up on the new group. Without it, delete stops after `timeouts.delete` with an error
/// that names the listener holding the group and the fix.
#[tokio::test]
async fn replacing_a_target_group_in_use() {
    let config = |port: u16, cbd: bool| {
        let lifecycle = if cbd {
            "\n  lifecycle {\n    create_before_destroy = true\n  }\n"
        } else {
            ""
        };
        format!(
            r#"
resource "elbv2_load_balancer" "lb" {{
  name    = "swap"
  subnets = SUBNETS
}}

resource "elbv2_target_group" "app" {{
  name_prefix = "app-"
  port        = {port}
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = "VPC"

  timeouts {{
    delete = "3s"
  }}
{lifecycle}}}

resource "elbv2_listener" "http" {{
  load_balancer_arn = elbv2_load_balancer.lb.arn
  port              = 80

  default_action {{
    type             = "forward"
    target_group_arn = elbv2_target_group.app.arn
  }}
}}

output "tg" {{ value = elbv2_target_group.app.arn }}
output "listener" {{ value = elbv2_listener.http.arn }}
"#
        )
    };
    for tf in terraforms() {
        let moto = Moto::start();
        let subnets = serde_json::to_string(&moto.default_subnets()[..2]).unwrap();
        let fill = |s: String| s.replace("SUBNETS", &subnets).replace("VPC", &moto.default_vpc());
        let w = Workdir::new(&tf, &moto);
        w.write_config(&fill(config(8080, true)));
        w.apply();
        let old = w.output("tg");
        w.write_config(&fill(config(9090, true)));
        let plan = w.plan_json();
        assert!(plan.creates_before_destroy("elbv2_target_group.app"), "{}", plan.0);
        w.apply();
        let new = w.output("tg");
        assert_ne!(old, new);
        let listener = w.output("listener");
        let l = moto
            .elbv2()
            .await
            .describe_listeners()
            .listener_arns(&listener)
            .send()
            .await
            .unwrap();
        assert_eq!(l.listeners()[0].default_actions()[0].target_group_arn(), Some(new.as_str()));
        let gone = moto.elbv2().await.describe_target_groups().target_group_arns(&old).send().await;
        assert!(gone.is_err(), "the old group was not deleted");

        // Without create_before_destroy, Terraform deletes first: the error says who holds it.
        w.write_config(&fill(config(7070, false)));
        let run = w.terraform(&["apply", "-auto-approve", "-no-color", "-input=false"]);
        let all = run.all().split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(!run.ok, "{all}");
        assert!(all.contains("Target group still in use"), "{all}");
        assert!(all.contains(&format!("listener {listener} (default action)")), "{all}");
        assert!(all.contains("create_before_destroy"), "{all}");
    }
}

/// Bad configurations of the new resources fail before anything is created, each with a
/// diagnostic that names the attribute.
#[tokio::test]
async fn bad_front_door_configs_fail_with_attribute_diagnostics() {
    let lb = |args: &str| format!("resource \"elbv2_load_balancer\" \"bad\" {{\n  {args}\n}}\n");
    let listener = |args: &str| {
        format!("resource \"elbv2_listener\" \"bad\" {{\n  load_balancer_arn = \"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1\"\n  {args}\n}}\n")
    };
    let rule = |args: &str| {
        format!("resource \"elbv2_listener_rule\" \"bad\" {{\n  listener_arn = \"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/1/2\"\n  {args}\n}}\n")
    };
    let fwd = "default_action {\n    type             = \"forward\"\n    target_group_arn = \"arn:tg\"\n  }";
    let path_condition = "condition {\n    path_pattern {\n      values = [\"/\"]\n    }\n  }";
    let rule_action = "action {\n    type             = \"forward\"\n    target_group_arn = \"arn:tg\"\n  }";
    let cases: Vec<(String, &str, &str)> = vec![
        (lb("subnets = [\"subnet-a\"]"), "at least two availability zones", "subnets"),
        (lb("name = \"internal-web\"\n  subnets = [\"a\", \"b\"]"), "cannot start with `internal-`", "name"),
        (lb("load_balancer_type = \"classic\"\n  subnets = [\"a\", \"b\"]"), "is not one of", "load_balancer_type"),
        (lb("subnets = [\"a\", \"b\"]\n  idle_timeout = 0"), "between 1 and 4000", "idle_timeout"),
        (lb("subnets = [\"a\", \"b\"]\n  timeouts {\n    create = \"soon\"\n  }"), "must be a duration", "create"),
        (lb("name = \"x\""), "needs `subnets` or `subnet_mapping`", ""),
        (listener(&format!("port = 443\n  protocol = \"HTTPS\"\n  {fwd}")), "needs `certificate_arn`", ""),
        (listener(&format!("port = 80\n  protocol = \"HTTP\"\n  alpn_policy = \"None\"\n  {fwd}")), "applies to TLS listeners", "alpn_policy"),
        (listener(&format!("port = 0\n  {fwd}")), "between 1 and 65535", "port"),
        (listener("port = 80\n  default_action {\n    type = \"redirect\"\n  }"), "needs a `redirect` block", "type"),
        (
            listener("port = 80\n  default_action {\n    type = \"forward\"\n    target_group_arn = \"a\"\n    forward {\n      target_group {\n        arn = \"b\"\n      }\n    }\n  }"),
            "name one target group",
            "target_group_arn",
        ),
        (
            listener("port = 80\n  default_action {\n    type = \"forward\"\n    forward {\n      target_group {\n        arn = \"b\"\n        weight = 1000\n      }\n    }\n  }"),
            "between 0 and 999",
            "weight",
        ),
        (
            listener("port = 80\n  default_action {\n    type = \"fixed-response\"\n    fixed_response {\n      content_type = \"image/png\"\n    }\n  }"),
            "is not one of",
            "content_type",
        ),
        (
            listener("port = 80\n  default_action {\n    type = \"forward\"\n    forward {\n      target_group {\n        arn = \"b\"\n      }\n      stickiness {\n        enabled = true\n      }\n    }\n  }"),
            "needs `duration`",
            "",
        ),
        (listener("port = 80\n  default_action {\n    type = \"authenticate-oidc\"\n  }"), "must end with a forward, redirect or fixed-response action", "type"),
        (
            listener(&format!("port = 80\n  {fwd}\n  default_action {{\n    type = \"redirect\"\n    redirect {{\n      status_code = \"HTTP_301\"\n    }}\n  }}")),
            "Only one forward, redirect or fixed-response action",
            "type",
        ),
        (rule(&format!("priority = 0\n  {rule_action}\n  {path_condition}")), "between 1 and 50000", "priority"),
        (
            rule(&format!("{rule_action}\n  condition {{\n    path_pattern {{\n      values = [\"/\"]\n    }}\n    host_header {{\n      values = [\"a\"]\n    }}\n  }}")),
            "exactly one of",
            "condition",
        ),
        (rule(&format!("{rule_action}\n  condition {{\n  }}")), "found none", "condition"),
        (rule(path_condition), "Insufficient action blocks", ""),
    ];
    for tf in terraforms() {
        let moto = Moto::start();
        let w = Workdir::new(&tf, &moto);
        for (body, expected, attribute) in &cases {
            w.write_config(body);
            let run = w.terraform(&["apply", "-auto-approve", "-no-color", "-input=false"]);
            let all = run.all();
            // Terraform wraps long details: compare with whitespace collapsed.
            let flat = all.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(!run.ok, "[{}] expected failure for\n{body}\n{all}", tf.version);
            assert!(flat.contains(expected), "[{}] expected {expected:?} for\n{body}\n{all}", tf.version);
            assert!(
                attribute.is_empty() || all.contains(&format!("{attribute} ")) || all.contains(&format!("{attribute}\n")),
                "[{}] no pointer at {attribute:?} for\n{body}\n{all}",
                tf.version
            );
            assert_eq!(lb_count(&moto).await, 0, "a bad config created something:\n{body}");
        }
    }
}
