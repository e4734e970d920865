# Conditions below use `a == null ? ... : ...` instead of `a == null || ...`: before Terraform 1.12
# `||` evaluates both sides, so a function given the null would fail the plan with an evaluation
# error instead of the error_message.

# --- project: create one in an organization, or use an existing one ------------------------------

variable "atlas_org_id" {
  type        = string
  default     = null
  description = "Atlas organization id (24 hex digits) in which to create a new project named project_name. Leave null when atlas_project_id names an existing project."

  validation {
    condition     = var.atlas_org_id == null ? true : can(regex("^[0-9a-f]{24}$", var.atlas_org_id))
    error_message = "atlas_org_id must be an Atlas organization id: 24 lowercase hex digits."
  }
}

variable "atlas_project_id" {
  type        = string
  default     = null
  description = "Id (24 hex digits) of an existing Atlas project to put the cluster in. Leave null to create a project in atlas_org_id instead."

  validation {
    condition     = var.atlas_project_id == null ? true : can(regex("^[0-9a-f]{24}$", var.atlas_project_id))
    error_message = "atlas_project_id must be an Atlas project id: 24 lowercase hex digits."
  }

  validation {
    condition     = (var.atlas_project_id == null) != (var.atlas_org_id == null)
    error_message = "Set exactly one of atlas_org_id (create a project) and atlas_project_id (use an existing one)."
  }
}

variable "project_name" {
  type        = string
  default     = "spotify-lakehouse"
  description = "Name of the project created in atlas_org_id (ignored when atlas_project_id is set)."

  validation {
    condition     = length(trimspace(var.project_name)) > 0
    error_message = "project_name must not be empty."
  }
}

# --- cluster -------------------------------------------------------------------------------------

variable "cluster_name" {
  type        = string
  default     = "spotify-lakehouse"
  description = "Name of the cluster. Atlas cannot rename a cluster: changing it replaces the cluster and its data."

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]*$", var.cluster_name))
    error_message = "cluster_name may contain ASCII letters, digits and hyphens, and starts with a letter or digit."
  }
}

variable "cluster_tier" {
  type        = string
  default     = "M0"
  description = "M0 (free, one per project), FLEX (shared, billed by use) or a dedicated tier such as M10, M30, R40 or M40_NVME. Going up (M0 to FLEX to dedicated) upgrades the same cluster in place; the provider documents no way back down."

  validation {
    # M2/M5 are gone: Atlas moved the shared tiers to Flex.
    condition     = can(regex("^(M0|FLEX|M[1-9][0-9]{1,2}(_NVME)?|R[1-9][0-9]{1,2})$", var.cluster_tier))
    error_message = "cluster_tier must be M0, FLEX or a dedicated tier such as M10, M30, R40 or M40_NVME (M2/M5 no longer exist: use FLEX)."
  }
}

variable "cloud_provider" {
  type        = string
  default     = "AWS"
  description = "Cloud the cluster runs on: AWS, GCP or AZURE. For M0 and FLEX it is the backing provider of the shared cluster."

  validation {
    condition     = contains(["AWS", "GCP", "AZURE"], var.cloud_provider)
    error_message = "cloud_provider must be AWS, GCP or AZURE (upper case)."
  }
}

variable "region" {
  type        = string
  default     = "US_EAST_1"
  description = "Atlas region name of the cluster, e.g. US_EAST_1 or EU_WEST_1 (AWS), NORTH_AMERICA_NORTHEAST_1 (GCP), EUROPE_NORTH (Azure). M0 and FLEX are offered in fewer regions than dedicated tiers."

  validation {
    condition     = can(regex("^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$", var.region))
    error_message = "region must be an Atlas region name in upper case with underscores (US_EAST_1), not the cloud's own name (us-east-1)."
  }
}

variable "electable_nodes" {
  type        = number
  default     = 3
  description = "Electable nodes of a dedicated-tier replica set (ignored for M0 and FLEX)."

  validation {
    condition     = contains([3, 5, 7], var.electable_nodes)
    error_message = "electable_nodes must be 3, 5 or 7."
  }
}

variable "mongodb_major_version" {
  type        = string
  default     = null
  description = "MongoDB major version of a dedicated-tier cluster, e.g. \"8.0\"; null lets Atlas pick its default. M0 and FLEX always run the version Atlas chooses."

  validation {
    condition     = var.mongodb_major_version == null ? true : can(regex("^[0-9]+\\.[0-9]+$", var.mongodb_major_version))
    error_message = "mongodb_major_version must look like \"8.0\", or be null."
  }
}

variable "backup_enabled" {
  type        = bool
  default     = true
  description = "Cloud backups for a dedicated-tier cluster (M0 has none; FLEX backups are managed by Atlas)."
  nullable    = false
}

variable "termination_protection" {
  type        = bool
  default     = false
  description = "When true Atlas refuses to delete the cluster, so `terraform destroy` fails until it is set back to false and applied. Turn it on for a cluster whose data you would miss."
  nullable    = false
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Extra Atlas resource tags for the project and the cluster (added to application and managed_by)."
}

# --- the application's database user -------------------------------------------------------------

variable "database_name" {
  type        = string
  default     = "spotify"
  description = "The database the lakehouse uses; the user may read and write it and nothing else. Must equal MONGODB_DATABASE in .env."

  validation {
    # MongoDB's own naming rules, plus the system databases: readWrite on admin would reach far
    # beyond the project's collections.
    condition     = can(regex("^[^/\\\\. \"$*<>:|?]{1,63}$", var.database_name)) && !contains(["admin", "local", "config"], var.database_name)
    error_message = "database_name must be a valid MongoDB database name (1-63 characters, none of /\\. \"$*<>:|?) and not admin, local or config."
  }
}

variable "database_username" {
  type        = string
  default     = "spotify-lakehouse"
  description = "Name of the database user the lakehouse connects as."

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*$", var.database_username))
    error_message = "database_username may contain letters, digits, '.', '_' and '-', and starts with a letter or digit."
  }
}

variable "database_password" {
  type        = string
  default     = null
  sensitive   = true
  description = "Password of the database user. Leave null (recommended) to have Terraform generate a 32-character one; either way it is kept in the Terraform state."

  validation {
    condition     = var.database_password == null ? true : length(var.database_password) >= 16
    error_message = "database_password must be at least 16 characters long (or null to generate one)."
  }
}

# --- network access ------------------------------------------------------------------------------

variable "ip_access_list" {
  type = list(object({
    cidr_block = string
    comment    = optional(string, "spotify-lakehouse (terraform)")
  }))
  description = "Addresses allowed to connect, in CIDR notation (one host: 203.0.113.7/32). An empty list leaves the cluster unreachable from any address. A /0 entry (0.0.0.0/0, ::/0) is refused unless allow_anywhere is true."
  nullable    = false

  validation {
    condition     = alltrue([for entry in var.ip_access_list : can(cidrhost(entry.cidr_block, 0))])
    error_message = "Every ip_access_list entry needs a cidr_block in CIDR notation, e.g. 203.0.113.7/32."
  }

  validation {
    condition     = length(distinct([for entry in var.ip_access_list : entry.cidr_block])) == length(var.ip_access_list)
    error_message = "ip_access_list lists the same cidr_block twice."
  }

  validation {
    # A /0 prefix is the whole address space, whatever address precedes it (10.0.0.0/0 too).
    condition = var.allow_anywhere || alltrue([
      for entry in var.ip_access_list :
      can(cidrhost(entry.cidr_block, 0)) ? tonumber(split("/", entry.cidr_block)[1]) > 0 : true
    ])
    error_message = "ip_access_list opens the cluster to every address (a /0 entry such as 0.0.0.0/0). List your own addresses instead, or set allow_anywhere = true if that is really intended."
  }
}

variable "allow_anywhere" {
  type        = bool
  default     = false
  description = "Permit a /0 entry in ip_access_list (0.0.0.0/0, ::/0): the cluster then accepts connections from any address and only the password protects it."
  nullable    = false
}
