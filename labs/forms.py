"""Launch forms: every field validated with a sentence a learner can act on."""

from django import forms

from labs.cloud import naming


class RegionForm(forms.Form):
    region = forms.CharField(max_length=30)


class BucketForm(forms.Form):
    bucket_name = forms.CharField(max_length=63, label="Bucket name")

    def clean_bucket_name(self):
        name = self.cleaned_data["bucket_name"].strip()
        problem = naming.bucket_name_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        return name


class InstanceTypeForm(forms.Form):
    instance_type = forms.CharField(max_length=40, label="Instance type")


EVAL_METRICS = [
    ("auc", "AUC (higher is better)"),
    ("logloss", "Log loss (lower is better)"),
    ("error", "Error rate (lower is better)"),
]


class TrainingForm(InstanceTypeForm):
    num_round = forms.IntegerField(
        min_value=1,
        max_value=500,
        initial=50,
        label="Rounds (num_round)",
        help_text="How many trees to grow, one per round.",
    )
    max_depth = forms.IntegerField(
        min_value=1,
        max_value=12,
        initial=5,
        label="Tree depth (max_depth)",
        help_text="Deeper trees learn more detail and overfit sooner.",
    )
    eta = forms.FloatField(
        min_value=0.01,
        max_value=1.0,
        initial=0.2,
        label="Learning rate (eta)",
        help_text="Between 0.01 and 1. Smaller learns slower but steadier.",
    )
    subsample = forms.FloatField(
        min_value=0.1,
        max_value=1.0,
        initial=0.8,
        label="Row sample (subsample)",
        help_text="Share of rows each tree sees, between 0.1 and 1.",
    )
    eval_metric = forms.ChoiceField(choices=EVAL_METRICS, initial="auc", label="Validation metric")

    def hyperparameters(self) -> dict[str, str]:
        data = self.cleaned_data
        return {
            "objective": "binary:logistic",
            "num_round": str(data["num_round"]),
            "max_depth": str(data["max_depth"]),
            "eta": f"{data['eta']:g}",
            "subsample": f"{data['subsample']:g}",
            "eval_metric": data["eval_metric"],
        }


def first_error(form: forms.Form) -> str:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        return f"{label}: {errors[0]}" if label else errors[0]
    return "Please check the form."
