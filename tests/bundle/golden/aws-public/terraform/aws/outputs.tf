output "lb_dns_name" {
  description = "Point a CNAME for var.domain here; clients connect to wss://DOMAIN/ws"
  value       = aws_lb.main.dns_name
}

output "vpc_id" {
  value = aws_vpc.main.id
}

output "private_subnet_ids" {
  value = aws_subnet.private[*].id
}

output "media_bucket" {
  value = aws_s3_bucket.media.id
}

output "autoscaling_groups" {
  description = "Autoscaling group per plan group (their instances join the Ansible inventory by the implan:group tag)"
  value = {
  }
}

# Ansible inventory for the fixed instances; imserver groups open their port to the clients' addresses in the
# host firewall because the NLB preserves them (write it with:
#   terraform output -raw ansible_inventory > ../../ansible/inventory/20-terraform-aws.yml)
output "ansible_inventory" {
  value = yamlencode({
    all = {
      children = {
        gateway_message_cache = {
          vars = { implan_roles = ["redis", "imserver"], implan_lb_source_cidrs = var.client_cidrs }
          hosts = { for i in aws_instance.gateway_message_cache : i.private_dns => { implan_address = i.private_ip } }
        }
        database = {
          vars = { implan_roles = ["postgresql"] }
          hosts = { for i in aws_instance.database : i.private_dns => { implan_address = i.private_ip } }
        }
      }
    }
  })
}

# Variables for the Ansible run (write them with:
#   terraform output -json ansible_vars > ../../ansible/group_vars/all/terraform.json)
output "ansible_vars" {
  value = {
    implan_cloud_lb          = true
    implan_domain            = var.domain
    imserver_media_backend   = "s3"
    imserver_s3_bucket       = aws_s3_bucket.media.id
    imserver_s3_region       = var.region
    imserver_s3_endpoint_url = "https://s3.${var.region}.amazonaws.com"
    imserver_port            = var.imserver_port
  }
}
