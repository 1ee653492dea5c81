# Security groups: only the load balancer is reachable from outside, and only on 443. Nodes accept their
# service ports from the groups that need them; SSH only from var.admin_cidrs (empty by default).
resource "aws_security_group" "lb" {
  name_prefix = "${local.name}-lb-"
  description = "Load balancer: TLS from clients, imserver port to the nodes"
  vpc_id      = aws_vpc.main.id
  ingress {
    description = "WebSocket over TLS from clients"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = var.client_cidrs
  }
  egress {
    description = "To imserver nodes"
    from_port   = var.imserver_port
    to_port     = var.imserver_port
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "node" {
  name_prefix = "${local.name}-node-"
  description = "Every implan node: service ports from inside the VPC only"
  vpc_id      = aws_vpc.main.id
  ingress {
    description     = "imserver from the load balancer"
    from_port       = var.imserver_port
    to_port         = var.imserver_port
    protocol        = "tcp"
    security_groups = [aws_security_group.lb.id]
  }
  ingress {
    description = "Node to node (PostgreSQL, Redis, replication, metrics) inside the group"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    self        = true
  }
  dynamic "ingress" {
    for_each = var.admin_cidrs
    content {
      description = "SSH from the admin network (VPN or bastion)"
      from_port   = 22
      to_port     = 22
      protocol    = "tcp"
      cidr_blocks = [ingress.value]
    }
  }
  egress {
    description = "Inside the VPC and to your own servers over the VPN"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = concat([var.vpc_cidr], var.private_site_cidrs)
  }
  egress {
    description = "HTTPS to package mirrors, PyPI and AWS APIs (through the NAT gateway)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    description = "NTP to the public time servers chrony uses (the Amazon Time Sync address needs no rule)"
    from_port   = 123
    to_port     = 123
    protocol    = "udp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    description = "HTTP to Debian package mirrors (signed packages)"
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  lifecycle {
    create_before_destroy = true
  }
}

# One customer-managed key for logs and media, rotated yearly.
resource "aws_kms_key" "main" {
  description             = "${local.name}: media bucket and log encryption"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:aws:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:*"
          }
        }
      }
    ]
  })
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.main.key_id
}

# Instance role: SSM Session Manager (no inbound SSH needed) and the media bucket.
resource "aws_iam_role" "node" {
  name_prefix = "${local.name}-node-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "node_ssm" {
  role       = aws_iam_role.node.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy" "node_media" {
  name = "media-bucket"
  role = aws_iam_role.node.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = ["${aws_s3_bucket.media.arn}/*"]
      },
      {
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [aws_kms_key.main.arn]
      }
    ]
  })
}

resource "aws_iam_instance_profile" "node" {
  name_prefix = "${local.name}-node-"
  role        = aws_iam_role.node.name
}
