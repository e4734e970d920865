locals {
  is_free      = var.cluster_tier == "M0"
  is_flex      = var.cluster_tier == "FLEX"
  is_dedicated = !local.is_free && !local.is_flex

  project_id = var.atlas_project_id != null ? var.atlas_project_id : mongodbatlas_project.this[0].id

  tags = merge({ application = "spotify-lakehouse", managed_by = "terraform" }, var.tags)

  database_password = var.database_password != null ? var.database_password : random_password.database[0].result
}

resource "mongodbatlas_project" "this" {
  count = var.atlas_project_id == null ? 1 : 0

  name   = var.project_name
  org_id = var.atlas_org_id
  tags   = local.tags
}

# One resource for every tier, so that moving up (M0 -> FLEX -> M10...) is an in-place upgrade of
# the same cluster rather than a new one.
resource "mongodbatlas_advanced_cluster" "this" {
  project_id   = local.project_id
  name         = var.cluster_name
  cluster_type = "REPLICASET"

  replication_specs = [
    {
      region_configs = [
        {
          # Shared tiers name the pseudo-provider here and the real cloud as the backing one.
          provider_name         = local.is_dedicated ? var.cloud_provider : (local.is_free ? "TENANT" : "FLEX")
          backing_provider_name = local.is_dedicated ? null : var.cloud_provider
          region_name           = var.region
          priority              = 7
          # FLEX has no instance size; M0 takes no node count.
          electable_specs = local.is_flex ? null : {
            instance_size = var.cluster_tier
            node_count    = local.is_dedicated ? var.electable_nodes : null
          }
        }
      ]
    }
  ]

  backup_enabled                 = local.is_dedicated ? var.backup_enabled : null
  mongo_db_major_version         = local.is_dedicated ? var.mongodb_major_version : null
  termination_protection_enabled = var.termination_protection
  tags                           = local.tags
}

resource "random_password" "database" {
  count = var.database_password == null ? 1 : 0

  length = 32
  # Letters and digits only: ~190 bits, and nothing a shell, a .env parser or a URI can misread.
  special = false
}

resource "mongodbatlas_database_user" "lakehouse" {
  project_id = local.project_id
  username   = var.database_username
  password   = local.database_password
  # Password (SCRAM) users authenticate against admin; their roles decide what they can touch.
  auth_database_name = "admin"
  description        = "spotify-lakehouse crawler and bronze export (terraform)"

  # Everything the crawler and the bronze export do (upserts, indexes, the change journal's
  # rename and drop) is within readWrite on the one database.
  roles {
    role_name     = "readWrite"
    database_name = var.database_name
  }

  # Only this cluster, not every cluster the project may hold later.
  scopes {
    name = mongodbatlas_advanced_cluster.this.name
    type = "CLUSTER"
  }
}

resource "mongodbatlas_project_ip_access_list" "this" {
  for_each = { for entry in var.ip_access_list : entry.cidr_block => entry }

  project_id = local.project_id
  cidr_block = each.value.cidr_block
  comment    = each.value.comment
}
