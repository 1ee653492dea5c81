# Network Load Balancer: TLS termination on 443 (certificate from ACM), WebSocket passes through as a TCP stream,
# health checks on imserver's /readyz. Access logs go to the log bucket.
resource "aws_lb" "main" {
  name                             = "${local.name}-nlb"
  load_balancer_type               = "network"
  internal                         = false
  subnets                          = aws_subnet.public[*].id
  security_groups                  = [aws_security_group.lb.id]
  enable_deletion_protection       = var.lb_deletion_protection
  enable_cross_zone_load_balancing = true
  access_logs {
    bucket  = aws_s3_bucket.logs.id
    prefix  = "nlb"
    enabled = true
  }
  depends_on = [aws_s3_bucket_policy.logs]
  #checkov:skip=CKV2_AWS_28:a Network Load Balancer passes TLS WebSocket traffic and cannot carry a WAF web ACL
}

resource "aws_lb_target_group" "imserver" {
  name_prefix          = "imsrv-"
  port                 = var.imserver_port
  protocol             = "TCP"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 30
  health_check {
    protocol            = "HTTP"
    path                = "/readyz"
    port                = "traffic-port"
    matcher             = "200"
    healthy_threshold   = 2
    unhealthy_threshold = 2
    interval            = 10
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "tls" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "TLS"
  certificate_arn   = var.certificate_arn
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  alpn_policy       = "HTTP1Only"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.imserver.arn
  }
}
