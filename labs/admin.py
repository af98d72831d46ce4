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
    readonly_fields = ["external_id_status"]

    @admin.display(description="External ID")
    def external_id_status(self, account):
        return "set (never shown)" if account and account.external_id else "not set"

    def get_fields(self, request, obj=None):
        fields = list(CloudAccountForm.Meta.fields)
        if not self.has_change_permission(request, obj):
            # A view-only page prints each field's raw value: the secret only says it is set.
            fields[fields.index("external_id")] = "external_id_status"
        return fields


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
    readonly_fields = [
        "details_shown" if field.name == "details" else field.name
        for field in CloudResource._meta.fields
    ]
    exclude = ["details"]
    inlines = [ResourceEventInline]

    @admin.display(description="Details")
    def details_shown(self, resource):
        # A JupyterLab link signs its holder into the learner's notebook: not for the admin.
        return {
            key: "(a sign-in link, not shown)" if key == "open_url" else value
            for key, value in resource.details.items()
        }

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
