terraform {
  # 1.9 is the first release whose variable validations may refer to other variables
  # (atlas_project_id is checked against atlas_org_id).
  required_version = ">= 1.9.0"

  required_providers {
    mongodbatlas = {
      source = "mongodb/mongodbatlas"
      # 2.x: mongodbatlas_advanced_cluster takes replication_specs/region_configs as attribute
      # lists (main.tf is written for that schema). 3.0 changes how the cluster's specs are kept
      # in state, so it is a deliberate upgrade, not a silent one.
      version = "~> 2.20"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }
}

# No credentials here: the provider reads a service account from MONGODB_ATLAS_CLIENT_ID /
# MONGODB_ATLAS_CLIENT_SECRET, or an API key pair from MONGODB_ATLAS_PUBLIC_API_KEY /
# MONGODB_ATLAS_PRIVATE_API_KEY (README.md).
provider "mongodbatlas" {}
