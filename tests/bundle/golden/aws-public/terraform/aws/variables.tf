variable "region" {
  description = "AWS region (the plan chose us-east-1)"
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name (at most 20 characters)"
  type        = string
  default     = "consumer-chat-1m-pub"
  validation {
    condition     = length(var.name_prefix) <= 20 && can(regex("^[a-z0-9-]+$", var.name_prefix))
    error_message = "name_prefix: at most 20 characters of a-z, 0-9 and '-'."
  }
}

variable "availability_zones" {
  description = "Availability zones to spread subnets and nodes over (pinned: the availability target asks for 3)"
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

variable "vpc_cidr" {
  description = "CIDR of the VPC"
  type        = string
  default     = "10.42.0.0/16"
}

variable "client_cidrs" {
  description = "Who may reach the load balancer on 443 (chat clients: usually everyone)"
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "admin_cidrs" {
  description = "CIDRs (VPN or bastion) allowed to SSH to the nodes; empty = no SSH rule (use SSM Session Manager)"
  type        = list(string)
  default     = []
  validation {
    condition     = !contains(var.admin_cidrs, "0.0.0.0/0") && !contains(var.admin_cidrs, "::/0")
    error_message = "admin_cidrs: SSH is never opened to the whole internet."
  }
}

variable "private_site_cidrs" {
  description = "CIDRs of your own servers reached over a site-to-site VPN (hybrid plans: PostgreSQL, Redis, MinIO)"
  type        = list(string)
  default     = []
}

variable "key_pair_name" {
  description = "Existing EC2 key pair for SSH; empty = none (SSM Session Manager only)"
  type        = string
  default     = ""
}

variable "domain" {
  description = "DNS name clients connect to (wss://DOMAIN/ws); point a CNAME at the lb_dns_name output"
  type        = string
  default     = "chat.example.com"
}

variable "certificate_arn" {
  description = "ACM certificate ARN for var.domain, used by the TLS listener"
  type        = string
}

variable "imserver_port" {
  description = "Port imserver listens on inside the VPC"
  type        = number
  default     = 8765
}

variable "lb_deletion_protection" {
  description = "Protect the load balancer from deletion (set false before terraform destroy)"
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of VPC flow logs and load balancer access logs"
  type        = number
  default     = 365
}

variable "extra_tags" {
  description = "Tags added to every resource"
  type        = map(string)
  default     = {}
}
