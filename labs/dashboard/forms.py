"""The cohort settings form: every rule broken is named in a sentence an instructor can
act on. The cloud account is not on it: which account (and so whose bill) a cohort uses
is the portal administrator's choice, made in the Django admin."""

from decimal import Decimal

from django import forms

from labs.cloud import pricing, regions
from labs.dashboard.services import EXTEND_CHOICES
from labs.models import LabSettings

MAX_ACTIVE = 20
TTL_MINUTES = (15, 3 * 24 * 60)
BUDGET_MAX = Decimal("100000")
DEFAULT_TYPE_FIELDS = (
    "notebook_instance_type",
    "training_instance_type",
    "transform_instance_type",
)
_KIND_OF_DEFAULT = {
    "notebook_instance_type": "notebook",
    "training_instance_type": "training_job",
    "transform_instance_type": "transform_job",
}


def _region_choices():
    return [(code, f"{code} — {name}") for code, name in regions.REGIONS.items()]


def _instance_choices():
    return [
        (name, f"{it.label} · {pricing.format_hourly(it.hourly_usd)}")
        for name, it in pricing.INSTANCE_TYPES.items()
    ]


# What a checkbox sends: a browser sends "on" when it is ticked and nothing when it is not.
_TICKED = {"on", "true", "1"}
_UNTICKED = {"", "off", "false", "0"}


class _TickBoxInput(forms.CheckboxInput):
    def value_from_datadict(self, data, files, name):
        if name not in data:
            return False
        value = data.get(name)
        text = value.strip().lower() if isinstance(value, str) else value
        if text in _TICKED:
            return True
        if text in _UNTICKED:
            return False
        return value  # Neither: the field refuses it.


class TickBoxField(forms.BooleanField):
    """A checkbox read strictly. Django's own counts any text but "false" and "0" as
    ticked, so a stray "off" or "no" would switch on what the box guards (GPU prices)."""

    widget = _TickBoxInput
    default_error_messages = {"invalid": "Tick the box or leave it empty."}

    def to_python(self, value):
        if isinstance(value, bool):
            return value
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


def _without_repeats(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class LabSettingsForm(forms.Form):
    allowed_regions = forms.MultipleChoiceField(
        choices=_region_choices,
        widget=forms.CheckboxSelectMultiple,
        label="Allowed regions",
        error_messages={
            "required": "Allow at least one region, or learners cannot launch anything.",
            "invalid_choice": "%(value)s is not an AWS region code the portal knows; "
            "use codes such as us-east-1 or eu-west-1.",
        },
    )
    allowed_instance_types = forms.MultipleChoiceField(
        choices=_instance_choices,
        widget=forms.CheckboxSelectMultiple,
        label="Allowed instance types",
        error_messages={
            "required": "Allow at least one instance type.",
            "invalid_choice": "%(value)s is not a SageMaker instance type the portal "
            "knows a price for.",
        },
    )
    gpu_allowed = TickBoxField(
        required=False,
        label="Allow GPU instance types",
        help_text="GPU instances cost several times more. The GPU types ticked above are "
        "offered to learners only while this is on.",
    )
    notebook_instance_type = forms.ChoiceField(
        choices=_instance_choices, label="Default notebook instance type"
    )
    training_instance_type = forms.ChoiceField(
        choices=_instance_choices, label="Default training instance type"
    )
    transform_instance_type = forms.ChoiceField(
        choices=_instance_choices, label="Default batch transform instance type"
    )
    max_active_per_learner = forms.IntegerField(
        label="Running resources per learner",
        min_value=1,
        max_value=MAX_ACTIVE,
        help_text=f"Notebooks and jobs at the same time, 1 to {MAX_ACTIVE}.",
        error_messages={
            "min_value": "Allow at least 1 running resource per learner.",
            "max_value": f"Allow at most {MAX_ACTIVE} running resources per learner.",
            "invalid": "Enter a whole number.",
        },
    )
    lab_ttl_minutes = forms.IntegerField(
        label="Lab time-to-live (minutes)",
        min_value=TTL_MINUTES[0],
        max_value=TTL_MINUTES[1],
        help_text="Resources are stopped, then deleted, this long after they start "
        f"({TTL_MINUTES[0]} minutes to 3 days).",
        error_messages={
            "min_value": f"The lab time must be at least {TTL_MINUTES[0]} minutes.",
            "max_value": f"The lab time can be at most {TTL_MINUTES[1]} minutes (3 days).",
            "invalid": "Enter a whole number of minutes.",
        },
    )
    budget_usd = forms.DecimalField(
        label="Budget (US dollars)",
        min_value=Decimal("0"),
        max_value=BUDGET_MAX,  # Which also keeps it within the column's digits.
        decimal_places=2,
        help_text="Notebook, training and transform launches are refused once the cohort's "
        "estimated spend reaches it (buckets cost cents and stay allowed).",
        error_messages={
            "min_value": "The budget cannot be negative.",
            "max_value": f"The budget can be at most ${BUDGET_MAX:,.0f}.",
            "invalid": "Enter an amount in dollars, such as 50 or 49.50.",
            "max_decimal_places": "Use at most 2 decimals (cents).",
        },
    )

    FIELDS = (
        "allowed_regions",
        "allowed_instance_types",
        "gpu_allowed",
        "notebook_instance_type",
        "training_instance_type",
        "transform_instance_type",
        "max_active_per_learner",
        "lab_ttl_minutes",
        "budget_usd",
    )

    @classmethod
    def for_settings(cls, lab_settings: LabSettings, data=None):
        initial = {name: getattr(lab_settings, name) for name in cls.FIELDS}
        return cls(data=data, initial=initial)

    def clean_allowed_regions(self):
        return _without_repeats(self.cleaned_data["allowed_regions"])

    def clean_allowed_instance_types(self):
        return _without_repeats(self.cleaned_data["allowed_instance_types"])

    def clean(self):
        data = super().clean()
        allowed = data.get("allowed_instance_types") or []
        for name in DEFAULT_TYPE_FIELDS:
            value = data.get(name)
            if not value or "allowed_instance_types" not in data:
                continue
            if value not in allowed:
                self.add_error(name, f"{value} is not among the allowed instance types above.")
            elif value not in pricing.sagemaker_accepts(_KIND_OF_DEFAULT[name]):
                self.add_error(
                    name,
                    f"SageMaker does not offer {value} for this; pick another type.",
                )
            elif name != "notebook_instance_type" and pricing.notebook_only(value):
                self.add_error(
                    name,
                    f"{value} is a burstable type that SageMaker offers for notebooks only; "
                    "pick another type for jobs.",
                )
            elif pricing.is_gpu(value) and not data.get("gpu_allowed"):
                self.add_error(
                    name,
                    f'{value} is a GPU type and GPU types are off: tick "Allow GPU instance '
                    'types", or pick a CPU type as the default.',
                )
        return data


class ExtendForm(forms.Form):
    minutes = forms.TypedChoiceField(
        choices=[(m, f"{m} minutes") for m in EXTEND_CHOICES],
        coerce=int,
        label="More time",
        error_messages={"invalid_choice": "Choose how many minutes from the list."},
    )
