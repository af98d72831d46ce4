from django.contrib import admin, messages

from portal.models import Cohort, Enrolment


class EnrolmentInline(admin.TabularInline):
    model = Enrolment
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [EnrolmentInline]

    # Deleting a cohort forgets its cloud resources, not the cloud's copies of them: one
    # with resources not yet deleted is torn down from its dashboard first, and the bulk
    # delete (which cannot judge each cohort) is not offered.
    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.cloud_resources.exclude(state="deleted").exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def change_view(self, request, object_id, form_url="", extra_context=None):
        cohort = self.get_object(request, object_id)
        if request.method == "GET" and cohort and not self.has_delete_permission(request, cohort):
            left = cohort.cloud_resources.exclude(state="deleted").count()
            self.message_user(
                request,
                f"{cohort.name} still has {left} cloud resource{'s' if left != 1 else ''}: "
                "tear it down from its dashboard before deleting it.",
                level=messages.WARNING,
            )
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ["user", "cohort", "role", "enrolled_at"]
    list_filter = ["role", "cohort"]
    search_fields = ["user__username", "user__email", "cohort__name"]
    autocomplete_fields = ["user", "cohort"]
