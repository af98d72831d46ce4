from django import forms
from django.contrib import admin

from labs.models import (
    CloudAccount,
    CloudResource,
    LabCheck,
    LabPreference,
    LabSettings,
    ResourceEvent,
)


class CloudAccountForm(forms.ModelForm):
    endpoint_url = forms.URLField(
        required=False, assume_scheme="https", help_text="localcloud only."
    )
    # The external ID is a shared secret: it can be set or replaced, never shown.
    external_id = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current value.",
    )

    class Meta:
        model = CloudAccount
        fields = ["name", "kind", "endpoint_url", "role_arn", "external_id", "execution_role_arn"]

    def clean_external_id(self):
        value = self.cleaned_data["external_id"]
        return value or (self.instance.external_id if self.instance.pk else "")


@admin.register(CloudAccount)
class CloudAccountAdmin(admin.ModelAdmin):
    form = CloudAccountForm
    list_display = ["name", "kind", "endpoint_url", "role_arn"]
    search_fields = ["name"]


@admin.register(LabSettings)
class LabSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "cohort",
        "account",
        "gpu_allowed",
        "max_active_per_learner",
        "lab_ttl_minutes",
        "budget_usd",
    ]
    autocomplete_fields = ["cohort"]


class ResourceEventInline(admin.TabularInline):
    model = ResourceEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "state", "cloud_status", "message"]


@admin.register(CloudResource)
class CloudResourceAdmin(admin.ModelAdmin):
    list_display = [
        "cloud_name",
        "kind",
        "owner",
        "cohort",
        "region",
        "state",
        "cloud_status",
        "created_at",
    ]
    list_filter = ["kind", "state", "region", "lab"]
    search_fields = ["cloud_name", "owner__username", "cohort__name"]
    # State changes go through services (and the cloud); the admin only shows them.
    readonly_fields = [field.name for field in CloudResource._meta.fields]
    inlines = [ResourceEventInline]

    def has_add_permission(self, request):
        return False


@admin.register(ResourceEvent)
class ResourceEventAdmin(admin.ModelAdmin):
    list_display = ["resource", "at", "state", "cloud_status", "message"]
    list_select_related = ["resource"]
    search_fields = ["resource__cloud_name", "message"]


@admin.register(LabCheck)
class LabCheckAdmin(admin.ModelAdmin):
    list_display = ["user", "lab", "purpose", "region", "state", "created_at"]
    list_filter = ["lab", "purpose", "state"]


@admin.register(LabPreference)
class LabPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "cohort", "region"]
