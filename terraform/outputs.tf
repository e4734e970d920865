locals {
  # Atlas gives "mongodb+srv://<host>" without credentials, database or options.
  srv_host = trimprefix(mongodbatlas_advanced_cluster.this.connection_strings.standard_srv, "mongodb+srv://")
}

output "project_id" {
  description = "Id of the Atlas project holding the cluster (created or given)."
  value       = local.project_id
}

output "cluster_name" {
  description = "Name of the cluster."
  value       = mongodbatlas_advanced_cluster.this.name
}

output "connection_host" {
  description = "SRV host name of the cluster (no credentials), e.g. for a firewall rule or a client tool."
  value       = local.srv_host
}

output "mongodb_database" {
  description = "Database the user may read and write: set MONGODB_DATABASE in .env to this."
  value       = var.database_name
}

output "database_username" {
  description = "The lakehouse's database user."
  value       = mongodbatlas_database_user.lakehouse.username
}

output "mongodb_uri" {
  description = "MONGODB_URI for .env, password included: `terraform output -raw mongodb_uri`."
  sensitive   = true
  # User name and password are URL-encoded so any character survives in the URI. A URI that
  # names a database authenticates against that database unless authSource says otherwise;
  # Atlas keeps password users in admin (its DNS TXT record says so too, but the URI should not
  # depend on a lookup to be right).
  value = format(
    "mongodb+srv://%s:%s@%s/%s?retryWrites=true&w=majority&authSource=admin",
    urlencode(mongodbatlas_database_user.lakehouse.username),
    urlencode(local.database_password),
    local.srv_host,
    var.database_name,
  )
}
