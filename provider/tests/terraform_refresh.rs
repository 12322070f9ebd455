//! A refresh through the real Terraform CLI shares ELBv2 reads between resources: the first refresh
//! of a target group lists the account's groups, the first of a rule lists its listener's rules,
//! and the tags of what was listed come 20 to a DescribeTags call, so the refreshes that follow
//! cost no call of their own (see `resources::read_ahead`); attributes have no batch form. Counted
//! by a proxy in front of moto. A group deleted behind Terraform's back is missing from the
//! listing: it is read on its own, found gone, and planned for creation.

mod support;

use support::{terraforms, Moto, Workdir};
use tgbind_testkit::faults::FaultProxy;

const GROUPS: usize = 24;
const RULES: usize = 12;

fn config(subnets: &[String], vpc: &str) -> String {
    format!(
        r#"
resource "elbv2_load_balancer" "lb" {{
  name    = "refresh"
  subnets = ["{s0}", "{s1}"]
  tags    = {{ team = "web" }}
}}

resource "elbv2_target_group" "tg" {{
  count       = {GROUPS}
  name        = "refresh-${{count.index}}"
  port        = 8080
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = "{vpc}"
  tags        = {{ n = "${{count.index}}" }}
}}

resource "elbv2_listener" "http" {{
  load_balancer_arn = elbv2_load_balancer.lb.arn
  port              = 80

  default_action {{
    type = "fixed-response"

    fixed_response {{
      content_type = "text/plain"
      status_code  = "404"
    }}
  }}
}}

# Rules forward to the first groups only: the last group can be deleted out of band.
resource "elbv2_listener_rule" "r" {{
  count        = {RULES}
  listener_arn = elbv2_listener.http.arn
  priority     = count.index + 1
  tags         = {{ n = "${{count.index}}" }}

  action {{
    type             = "forward"
    target_group_arn = elbv2_target_group.tg[count.index].arn
  }}

  condition {{
    path_pattern {{
      values = ["/svc-${{count.index}}/*"]
    }}
  }}
}}

output "last_group" {{
  value = elbv2_target_group.tg[{last}].arn
}}
"#,
        s0 = subnets[0],
        s1 = subnets[1],
        last = GROUPS - 1,
    )
}

/// How many requests of `action` the proxy forwarded since `from`.
fn calls(proxy: &FaultProxy, from: usize, action: &str) -> usize {
    let wanted = format!("Action={action}");
    proxy.forwarded_bodies()[from..]
        .iter()
        .filter(|body| body.split('&').any(|kv| kv == wanted))
        .count()
}

#[tokio::test]
async fn concurrent_refreshes_share_batch_reads_and_a_deleted_object_fails_only_its_own() {
    let tf = &terraforms()[0];
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port);
    let mut w = Workdir::new(tf, &moto);
    w.set_endpoint(&proxy.endpoint());
    w.write_config(&config(&moto.default_subnets(), &moto.default_vpc()));
    w.apply();

    let before = proxy.forwarded_bodies().len();
    w.assert_no_changes("right after apply");
    let groups = calls(&proxy, before, "DescribeTargetGroups");
    let rules = calls(&proxy, before, "DescribeRules");
    let tags = calls(&proxy, before, "DescribeTags");
    let attributes = calls(&proxy, before, "DescribeTargetGroupAttributes");
    eprintln!(
        "refresh of {GROUPS} groups and {RULES} rules (Terraform {}): DescribeTargetGroups {groups}, \
         DescribeTargetGroupAttributes {attributes}, DescribeRules {rules}, DescribeTags {tags}",
        tf.version
    );
    // Every group's attributes read (no batch form: one call each); groups, rules and tags listed
    // or read in shared calls.
    assert_eq!(attributes, GROUPS, "each group's attributes read once");
    assert!((1..=2).contains(&groups), "DescribeTargetGroups {groups} for {GROUPS} groups");
    assert!((1..=2).contains(&rules), "DescribeRules {rules} for {RULES} rules");
    let tagged = 1 + GROUPS + 1 + RULES;
    assert!((2..=tagged / 4).contains(&tags), "DescribeTags {tags} for {tagged} objects");

    // Delete one group behind Terraform's back: the batch holding it fails in ELBv2, every other
    // group still refreshes, and the plan recreates only the missing one.
    let last = w.output("last_group");
    moto.elbv2()
        .await
        .delete_target_group()
        .target_group_arn(&last)
        .send()
        .await
        .unwrap();
    let plan = w.plan_json();
    assert_eq!(plan.counts(), (1, 0, 0), "only the deleted group is planned");
    assert_eq!(plan.actions(&format!("elbv2_target_group.tg[{}]", GROUPS - 1)), ["create"]);
}
