"""The MongoDB Atlas module (terraform/), checked offline.

The Terraform registry is unreachable here, so `terraform init/plan` cannot run. These tests
parse the module with python-hcl2 and evaluate its own expressions (tf_module.py): variable
validations with real inputs, the cluster and user arguments Terraform would send to the
provider, and the outputs, with the attributes only Atlas knows (ids, hosts) filled in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
from pymongo.uri_parser import parse_uri
from tf_module import HclError, Module, Plan, evaluate, evaluate_text, parse_attributes

from lakehouse.settings import REPO_ROOT, Settings

MODULE_DIR = REPO_ROOT / "terraform"
MODULE = Module.load(MODULE_DIR)

# Inputs every plan below starts from: the smallest valid set.
VALID = {
    "atlas_org_id": "0123456789abcdef01234567",
    "ip_access_list": [{"cidr_block": "203.0.113.7/32", "comment": "laptop"}],
}
SRV = "mongodb+srv://spotify-lakehouse.ab1cd.mongodb.net"
# What Atlas would fill in after apply (the configuration cannot know it).
COMPUTED = {
    "mongodbatlas_project.this": {"id": "aaaaaaaaaaaaaaaaaaaaaaaa"},
    "mongodbatlas_advanced_cluster.this": {"connection_strings": {"standard_srv": SRV}},
}
GENERATED = "GeneratedPassw0rdGeneratedPassw0"


def plan(**inputs: Any) -> Plan:
    computed = {**COMPUTED, "random_password.database": {"result": GENERATED}}
    return Plan(MODULE, {**VALID, **inputs}, computed)


def rejections(**inputs: Any) -> list[str]:
    return plan(**inputs).rejections()


# --- the evaluator itself: answers recorded from `terraform console` (Terraform 1.11.4) ----------


@pytest.mark.parametrize(
    ("expression", "terraform_says"),
    [
        ("true ? 1 : [][0]", 1),  # only the chosen branch is evaluated
        ("can(false || [][0] == 1)", False),  # || evaluates both operands
        (
            'urlencode("a b+c/d:e@f%g~h_i.j-k$#?&=")',
            "a+b%2Bc%2Fd%3Ae%40f%25g~h_i.j-k%24%23%3F%26%3D",
        ),
        ('tonumber("00")', 0),
        ('can(cidrhost("0.0.0.0/00", 0))', True),
        ('can(cidrhost("010.0.0.0/8", 0))', True),
        ('can(cidrhost("1.2.3.4", 0))', False),
        ('can(cidrhost(" 1.2.3.4/32", 0))', False),
        ('can(cidrhost("1.2.3.4/33", 0))', False),
        ('split("/", "::/0")', ["::", "0"]),
    ],
)
def test_the_evaluator_agrees_with_terraform(
    expression: str, terraform_says: Any, tmp_path
) -> None:
    assert evaluate_text(expression, {}) == terraform_says
    # Where a terraform binary exists, ask it again (`console` needs no provider): the recorded
    # answer must still be Terraform's.
    terraform = shutil.which("terraform")
    if terraform is not None:
        result = subprocess.run(
            [terraform, "console"],
            input=f"jsonencode({expression})\n",
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull},
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(json.loads(result.stdout.strip())) == terraform_says


# --- variables and providers ---------------------------------------------------------------------


def test_every_variable_has_a_type_and_a_description() -> None:
    variables = MODULE.variables
    assert {"ip_access_list", "allow_anywhere", "cluster_tier", "database_password"} <= set(
        variables
    )
    for name, block in variables.items():
        assert "type" in block.attributes, f"variable {name} has no type"
        description = block.literal("description")
        assert isinstance(description, str) and len(description.split()) >= 3, (
            f"variable {name} has no real description"
        )


def test_required_providers_are_pinned_to_a_major_version() -> None:
    (terraform,) = MODULE.of_type("terraform")
    assert re.fullmatch(r">= ?1\.\d+(\.\d+)?", terraform.literal("required_version"))
    (required,) = terraform.blocks_of("required_providers")
    providers = {name: evaluate(expr, {}) for name, expr in required.attributes.items()}
    assert providers["mongodbatlas"]["source"] == "mongodb/mongodbatlas"
    assert providers["random"]["source"] == "hashicorp/random"
    for name, spec in providers.items():
        # "~> X.Y" allows X.Y and later minors, never the next major.
        assert re.fullmatch(r"~> ?\d+\.\d+", spec.get("version", "")), (name, spec)
    # main.tf is written for provider 2.x's mongodbatlas_advanced_cluster schema.
    assert providers["mongodbatlas"]["version"].replace(" ", "").startswith("~>2.")


# --- network access ------------------------------------------------------------------------------

WHOLE_INTERNET = "opens the cluster to every address"


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", "10.0.0.0/0", "0.0.0.0/00"])
def test_the_ip_access_list_refuses_the_whole_internet_unless_allowed(cidr: str) -> None:
    entries = [VALID["ip_access_list"][0], {"cidr_block": cidr}]
    refused = rejections(ip_access_list=entries)
    assert len(refused) == 1 and WHOLE_INTERNET in refused[0]
    assert "allow_anywhere" in refused[0]  # the message says how to mean it
    assert rejections(ip_access_list=entries, allow_anywhere=True) == []


@pytest.mark.parametrize(
    "cidr", ["203.0.113.7/32", "198.51.100.0/24", "10.0.0.0/8", "2001:db8::/32"]
)
def test_ordinary_networks_are_accepted(cidr: str) -> None:
    assert rejections(ip_access_list=[{"cidr_block": cidr}]) == []


def test_access_list_entries_must_be_cidrs_and_unique() -> None:
    (refused,) = rejections(ip_access_list=[{"cidr_block": "203.0.113.7"}])
    assert "CIDR notation" in refused
    twice = [{"cidr_block": "203.0.113.7/32"}, {"cidr_block": "203.0.113.7/32"}]
    (refused,) = rejections(ip_access_list=twice)
    assert "same cidr_block twice" in refused


def test_the_access_list_is_exactly_the_variable_entries() -> None:
    entries = [
        {"cidr_block": "203.0.113.7/32", "comment": "laptop"},
        {"cidr_block": "198.51.100.0/24", "comment": "office"},
    ]
    created = plan(ip_access_list=entries).resource("mongodbatlas_project_ip_access_list.this")
    assert {key: (e["cidr_block"], e["comment"]) for key, e in created.items()} == {
        "203.0.113.7/32": ("203.0.113.7/32", "laptop"),
        "198.51.100.0/24": ("198.51.100.0/24", "office"),
    }
    assert all(
        e["project_id"] == COMPUTED["mongodbatlas_project.this"]["id"] for e in created.values()
    )
    assert plan(ip_access_list=[]).resource("mongodbatlas_project_ip_access_list.this") == {}


# --- project and cluster -------------------------------------------------------------------------

EXISTING = "bbbbbbbbbbbbbbbbbbbbbbbb"


def test_the_project_is_created_in_an_org_or_an_existing_one_is_used() -> None:
    created = plan()
    assert len(created.resource("mongodbatlas_project.this")) == 1
    assert created.output("project_id") == COMPUTED["mongodbatlas_project.this"]["id"]

    existing = plan(atlas_org_id=None, atlas_project_id=EXISTING)
    assert existing.rejections() == []
    assert existing.resource("mongodbatlas_project.this") == []
    assert existing.output("project_id") == EXISTING
    assert existing.resource("mongodbatlas_advanced_cluster.this")["project_id"] == EXISTING
    assert existing.resource("mongodbatlas_database_user.lakehouse")["project_id"] == EXISTING

    for both_or_neither in ({"atlas_project_id": EXISTING}, {"atlas_org_id": None}):
        (refused,) = rejections(**both_or_neither)
        assert "exactly one of atlas_org_id" in refused
    (refused,) = rejections(atlas_org_id="not-an-org-id")
    assert "atlas_org_id must be" in refused


@pytest.mark.parametrize("tier", ["M0", "FLEX", "M10", "M30", "M200", "R40", "M40_NVME"])
def test_cluster_tiers_atlas_offers_are_accepted(tier: str) -> None:
    assert rejections(cluster_tier=tier) == []


@pytest.mark.parametrize("tier", ["M2", "M5", "m10", "M", "M10 ", "SERVERLESS", "M1000"])
def test_unknown_or_retired_tiers_are_refused(tier: str) -> None:
    (refused,) = rejections(cluster_tier=tier)
    assert refused.startswith("cluster_tier:")


@pytest.mark.parametrize(
    ("region", "accepted"),
    [
        ("US_EAST_1", True),
        ("EU_WEST_1", True),
        ("NORTH_AMERICA_NORTHEAST_1", True),
        ("EUROPE_NORTH", True),
        ("us-east-1", False),
        ("eu_west_1", False),
        ("US__EAST_1", False),
        ("", False),
    ],
)
def test_region_must_be_an_atlas_region_name(region: str, accepted: bool) -> None:
    assert (rejections(region=region) == []) is accepted


@pytest.mark.parametrize(
    ("inputs", "region_config", "cluster"),
    [
        (
            {"cluster_tier": "M0"},
            {
                "provider_name": "TENANT",
                "backing_provider_name": "AWS",
                "electable_specs": {"instance_size": "M0", "node_count": None},
            },
            {"backup_enabled": None, "mongo_db_major_version": None},
        ),
        (
            {"cluster_tier": "FLEX", "cloud_provider": "AZURE"},
            {"provider_name": "FLEX", "backing_provider_name": "AZURE", "electable_specs": None},
            {"backup_enabled": None, "mongo_db_major_version": None},
        ),
        (
            {
                "cluster_tier": "M30",
                "cloud_provider": "GCP",
                "electable_nodes": 5,
                "mongodb_major_version": "8.0",
                "backup_enabled": False,
            },
            {
                "provider_name": "GCP",
                "backing_provider_name": None,
                "electable_specs": {"instance_size": "M30", "node_count": 5},
            },
            {"backup_enabled": False, "mongo_db_major_version": "8.0"},
        ),
    ],
)
def test_the_cluster_follows_the_provider_2_schema_for_each_tier(
    inputs: dict[str, Any], region_config: dict[str, Any], cluster: dict[str, Any]
) -> None:
    block = MODULE.resources[("mongodbatlas_advanced_cluster", "this")]
    # Provider 2.x: replication_specs is a list attribute; a 1.x-style block would not plan.
    assert "replication_specs" in block.attributes and not block.blocks_of("replication_specs")
    planned = plan(region="EU_WEST_1", **inputs)
    assert planned.rejections() == []
    resource = planned.resource("mongodbatlas_advanced_cluster.this")
    assert resource["cluster_type"] == "REPLICASET"
    ((only_region,),) = [spec["region_configs"] for spec in resource["replication_specs"]]
    assert only_region == {**region_config, "region_name": "EU_WEST_1", "priority": 7}
    assert {key: resource[key] for key in cluster} == cluster


# --- the database user ---------------------------------------------------------------------------

BROAD_ROLES = re.compile(
    r"atlasAdmin|AnyDatabase|dbAdmin|dbOwner|userAdmin|clusterAdmin|clusterManager|\"root\""
)


def test_the_user_may_only_read_and_write_the_configured_database() -> None:
    user = plan(database_name="spotify_prod").resource("mongodbatlas_database_user.lakehouse")
    assert user.blocks("roles") == [{"role_name": "readWrite", "database_name": "spotify_prod"}]
    assert user["auth_database_name"] == "admin"  # where Atlas keeps password users
    assert user.blocks("scopes") == [{"name": "spotify-lakehouse", "type": "CLUSTER"}]
    for source in MODULE_DIR.glob("*.tf"):
        assert not BROAD_ROLES.search(source.read_text()), f"a broad role in {source.name}"


@pytest.mark.parametrize("name", ["admin", "local", "config", "spot.ify", "spot ify", "a" * 64, ""])
def test_the_database_cannot_be_a_system_or_invalid_one(name: str) -> None:
    (refused,) = rejections(database_name=name)
    assert refused.startswith("database_name:")


def test_the_password_is_generated_or_a_sensitive_input() -> None:
    assert MODULE.variables["database_password"].literal("sensitive") is True

    generated = plan()
    (password,) = generated.resource("random_password.database")
    assert password["length"] >= 20
    user = generated.resource("mongodbatlas_database_user.lakehouse")
    assert user["password"] == GENERATED

    chosen = "chosen-by-the-operator-1"
    given = plan(database_password=chosen)
    assert given.resource("random_password.database") == []
    assert given.resource("mongodbatlas_database_user.lakehouse")["password"] == chosen
    (refused,) = rejections(database_password="short")
    assert refused.startswith("database_password:")


# --- outputs -------------------------------------------------------------------------------------

CANARY = "Canary:Secret/Value?#1"


@pytest.mark.parametrize("password", [None, CANARY])
def test_every_output_that_carries_the_password_is_sensitive(password: str | None) -> None:
    secret = GENERATED if password is None else CANARY
    planned = plan(database_password=password)
    forms = {secret, evaluate_text(f'urlencode("{secret}")', {})}
    carrying = {
        name for name in MODULE.outputs if any(f in str(planned.output(name)) for f in forms)
    }
    assert "mongodb_uri" in carrying  # the check sees the password where it is
    for name in carrying:
        assert MODULE.outputs[name].literal("sensitive") is True, f"output {name} is not sensitive"
    not_secret = set(MODULE.outputs) - carrying
    assert {"connection_host", "mongodb_database", "project_id"} <= not_secret


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("spotify-lakehouse", None),
        ("spotify.lake_house", "p@ss:w/rd?#%+ &=é~LongEnough"),
    ],
)
def test_mongodb_uri_is_what_the_app_needs_in_env(username: str, password: str | None) -> None:
    planned = plan(database_username=username, database_password=password, database_name="music")
    uri = planned.output("mongodb_uri")
    expected_password = GENERATED if password is None else password

    assert uri.startswith("mongodb+srv://")
    netloc = urlsplit(uri).netloc
    assert netloc.rsplit("@", 1)[1] == planned.output("connection_host") == SRV.split("//")[1]
    # pymongo resolves mongodb+srv hosts in DNS; the rest of the parsing is the same, so parse
    # the same URI under the plain scheme to check credentials, database and options offline.
    parsed = parse_uri("mongodb://" + uri.removeprefix("mongodb+srv://"))
    assert parsed["username"] == username
    assert parsed["password"] == expected_password
    assert parsed["database"] == "music" == planned.output("mongodb_database")
    options = parsed["options"]
    assert options["retryWrites"] is True
    assert options["w"] == "majority"
    assert options["authSource"] == "admin"

    settings = Settings(mongodb_uri=uri)
    assert settings.mongodb_url == uri and not settings.mongodb_is_local
    assert expected_password not in settings.mongodb_display


def test_connection_strings_are_read_with_the_provider_2_shape() -> None:
    # 1.x returned a list (connection_strings[0].standard_srv); 2.x returns one object.
    wrong_shape = {
        **COMPUTED,
        "mongodbatlas_advanced_cluster.this": {"connection_strings": [{"standard_srv": SRV}]},
    }
    with pytest.raises(HclError):
        Plan(MODULE, VALID, wrong_shape).output("connection_host")
    assert plan().output("connection_host") == SRV.removeprefix("mongodb+srv://")


# --- files around the module ---------------------------------------------------------------------

SECRET_NAME = r"[\w-]*(?:password|passwd|secret|private_?key|api_?key|token)[\w-]*"
SECRET_ASSIGNMENT = re.compile(
    # `name = value` (not `var.name == ...`, a comparison of a reference), or a YAML/JSON-style
    # `name: value` at the start of a line (not prose such as "the password: write it ...").
    rf"(?im)(?:(?<![.\w-])(?P<name>{SECRET_NAME})\s*=(?!=)"
    rf"|^\s*[\"']?(?P<key>{SECRET_NAME})[\"']?\s*:(?!:))\s*"
    r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s#]+)"
)
URI_CREDENTIALS = re.compile(r"mongodb(?:\+srv)?://[^\s:/@\"'`]+:(?P<value>[^\s@\"'`]+)@")
# What may stand where a secret would: nothing, a reference, a placeholder, a shell expansion.
NOT_A_SECRET = re.compile(
    r"^(|null|true|false|\.\.\.|%s|\*+|<[^>]*>?|\$\{.*|\$\(.*|\$[A-Za-z_]\w*"
    r"|(?:var|local|random_password|each|module|data)\..*)$"
)


def secret_literals(text: str) -> list[str]:
    found = []
    for match in [*SECRET_ASSIGNMENT.finditer(text), *URI_CREDENTIALS.finditer(text)]:
        value = match.group("value").strip("\"'")
        if not NOT_A_SECRET.match(value):
            found.append(match.group(0))
    return found


@pytest.mark.parametrize(
    ("text", "is_secret"),
    [
        ('password = "hunter2hunter2"', True),
        ("client_secret: 'abc123'", True),
        ("export MONGODB_ATLAS_PRIVATE_API_KEY=0a1b2c3d-aaaa", True),
        ("MONGODB_URI=mongodb+srv://app:s3cr3t@cluster0.ab1cd.mongodb.net/spotify", True),
        ("password = local.database_password", False),
        ("database_password = null", False),
        ("count = var.database_password == null ? 1 : 0", False),
        ("The URI contains the password: write it to the file", False),
        ('  "api_key": "0a1b2c3d"', True),
        ("export MONGODB_ATLAS_CLIENT_SECRET=<client-secret>", False),
        ('"mongodb+srv://%s:%s@%s/%s?retryWrites=true"', False),
        ("mongodb+srv://${var.user}:${local.password}@host/db", False),
        ("MONGODB_URI=mongodb+srv://***@cluster0.ab1cd.mongodb.net/spotify?***", False),
        ("sensitive = true", False),
    ],
)
def test_the_secret_detector_tells_literals_from_references(text: str, is_secret: bool) -> None:
    assert bool(secret_literals(text)) is is_secret


def test_no_secret_literal_in_the_module_or_its_docs() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "terraform"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    files = [REPO_ROOT / name for name in listed] + [REPO_ROOT / "docs" / "atlas.md"]
    assert {"terraform/main.tf", "terraform/terraform.tfvars.example"} <= set(listed)
    for file in files:
        assert secret_literals(file.read_text(encoding="utf-8")) == [], file


def test_the_tfvars_example_is_complete_valid_and_secret_free() -> None:
    text = (MODULE_DIR / "terraform.tfvars.example").read_text()
    values = {name: evaluate(expr, {}) for name, expr in parse_attributes(text).items()}
    variables = MODULE.variables
    assert set(values) <= set(variables), "the example sets variables the module does not declare"
    required = {name for name, block in variables.items() if "default" not in block.attributes}
    assert required <= set(values), "the example leaves out a required variable"
    sensitive = {name for name, block in variables.items() if block.literal("sensitive")}
    assert not sensitive & set(values)
    assert (
        Plan(MODULE, values, COMPUTED | {"random_password.database": {"result": "x"}}).rejections()
        == []
    )


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("terraform/terraform.tfstate", True),
        ("terraform/terraform.tfstate.backup", True),
        ("terraform/.terraform/providers/x", True),
        ("terraform/terraform.tfvars", True),
        ("terraform/prod.tfvars", True),
        ("terraform/crash.log", True),
        ("terraform/plan.tfplan", True),
        ("terraform/terraform.tfvars.example", False),
        ("terraform/main.tf", False),
        ("terraform/README.md", False),
    ],
)
def test_git_keeps_state_and_deployment_values_out(path: str, ignored: bool) -> None:
    # git's own answer, from the real ignore files, whether or not the path exists.
    check = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", path], cwd=REPO_ROOT, check=False
    )
    assert check.returncode in (0, 1)
    assert (check.returncode == 0) is ignored


def test_terraform_fmt_finds_nothing_to_change() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("no terraform binary on PATH: `terraform fmt -check` not run")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(MODULE_DIR)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull},
    )
    assert result.returncode == 0, result.stdout + result.stderr
