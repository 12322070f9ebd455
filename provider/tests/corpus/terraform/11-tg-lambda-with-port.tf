# expect: must not be set when `target_type` is "lambda"
# at: port
resource "elbv2_target_group" "bad" {
  target_type = "lambda"
  port        = 80
}
