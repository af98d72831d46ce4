"""AWS commercial regions where SageMaker runs, with the names the AWS console shows.

Only regions where the sagemaker SDK publishes the built-in XGBoost image are listed (the
labs need it); newer regions join once the SDK knows them (a test checks both lists).

Regions marked opt-in must be enabled in an AWS account before anything can be created
there; a cohort's allowed list is chosen by its instructor from these codes.
"""

from __future__ import annotations

__all__ = ["DEFAULT_REGION", "OPT_IN_REGIONS", "REGIONS", "is_known_region", "region_name"]

DEFAULT_REGION = "us-east-1"

REGIONS: dict[str, str] = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)",
    "ca-west-1": "Canada West (Calgary)",
    "sa-east-1": "South America (São Paulo)",
    "eu-west-1": "Europe (Ireland)",
    "eu-west-2": "Europe (London)",
    "eu-west-3": "Europe (Paris)",
    "eu-central-1": "Europe (Frankfurt)",
    "eu-central-2": "Europe (Zurich)",
    "eu-north-1": "Europe (Stockholm)",
    "eu-south-1": "Europe (Milan)",
    "eu-south-2": "Europe (Spain)",
    "il-central-1": "Israel (Tel Aviv)",
    "me-south-1": "Middle East (Bahrain)",
    "me-central-1": "Middle East (UAE)",
    "af-south-1": "Africa (Cape Town)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-south-2": "Asia Pacific (Hyderabad)",
    "ap-east-1": "Asia Pacific (Hong Kong)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-southeast-3": "Asia Pacific (Jakarta)",
    "ap-southeast-4": "Asia Pacific (Melbourne)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
}

# Regions launched after March 2019 are disabled in an account until someone opts in.
OPT_IN_REGIONS = frozenset(
    {
        "ca-west-1",
        "eu-central-2",
        "eu-south-1",
        "eu-south-2",
        "il-central-1",
        "me-south-1",
        "me-central-1",
        "af-south-1",
        "ap-south-2",
        "ap-east-1",
        "ap-southeast-3",
        "ap-southeast-4",
    }
)


def is_known_region(code: str) -> bool:
    return code in REGIONS


def region_name(code: str) -> str:
    """ "Europe (Ireland)" for "eu-west-1"; an unknown code is returned as it is."""
    return REGIONS.get(code, code)


def region_label(code: str) -> str:
    """ "Europe (Ireland) · eu-west-1", for select boxes and page headers."""
    name = REGIONS.get(code)
    return f"{name} · {code}" if name else code
