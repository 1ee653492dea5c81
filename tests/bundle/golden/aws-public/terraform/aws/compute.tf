# Nodes, one block per plan group. Stateless groups (imserver) run in autoscaling groups: the committed base
# is the minimum (buy it as a Savings Plan or Reserved Instances: commitments are billing, not Terraform), the
# autoscaled peak above it is on-demand and/or spot as the plan chose. Stateful groups (PostgreSQL, Redis, MinIO)
# run fixed instances spread over the availability zones.
data "aws_ami" "debian_arm64" {
  most_recent = true
  owners      = ["136693071363"] # Debian
  filter {
    name   = "name"
    values = ["debian-12-arm64-*"]
  }
  filter {
    name   = "architecture"
    values = ["arm64"]
  }
}

# --- gateway+message+cache: c7g.large; roles redis, imserver
resource "aws_instance" "gateway_message_cache" {
  count                  = 2
  ami                    = data.aws_ami.debian_arm64.id
  instance_type          = "c7g.large"
  key_name               = var.key_pair_name == "" ? null : var.key_pair_name
  subnet_id              = aws_subnet.private[count.index % length(local.azs)].id
  vpc_security_group_ids = [aws_security_group.node.id]
  iam_instance_profile   = aws_iam_instance_profile.node.name
  ebs_optimized          = true
  monitoring             = true

  associate_public_ip_address = false
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  root_block_device {
    volume_size           = 30
    volume_type           = "gp3"
    encrypted             = true
    delete_on_termination = false
  }
  tags = {
    Name           = "${local.name}-gateway-message-cache-${count.index}"
    "implan:group" = "gateway_message_cache"
    "implan:roles" = "redis,imserver"
  }
  # A newer Debian AMI (most_recent) must not replace a stateful node onto an empty disk: patch it in place
  # (apt) or replace it deliberately (terraform apply -replace=...) after its data has moved.
  lifecycle {
    ignore_changes = [ami]
  }
}

resource "aws_lb_target_group_attachment" "gateway_message_cache" {
  count            = 2
  target_group_arn = aws_lb_target_group.imserver.arn
  target_id        = aws_instance.gateway_message_cache[count.index].id
  port             = var.imserver_port
}

# --- database: c7g.large; roles postgresql
resource "aws_instance" "database" {
  count                  = 2
  ami                    = data.aws_ami.debian_arm64.id
  instance_type          = "c7g.large"
  key_name               = var.key_pair_name == "" ? null : var.key_pair_name
  subnet_id              = aws_subnet.private[count.index % length(local.azs)].id
  vpc_security_group_ids = [aws_security_group.node.id]
  iam_instance_profile   = aws_iam_instance_profile.node.name
  ebs_optimized          = true
  monitoring             = true

  associate_public_ip_address = false
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  root_block_device {
    volume_size           = 100
    volume_type           = "gp3"
    encrypted             = true
    delete_on_termination = false
  }
  tags = {
    Name           = "${local.name}-database-${count.index}"
    "implan:group" = "database"
    "implan:roles" = "postgresql"
  }
  # A newer Debian AMI (most_recent) must not replace a stateful node onto an empty disk: patch it in place
  # (apt) or replace it deliberately (terraform apply -replace=...) after its data has moved.
  lifecycle {
    ignore_changes = [ami]
  }
}

