from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.shortcuts import redirect

from portal.models import Cohort, Enrolment

User = get_user_model()


class EnrolmentInline(admin.TabularInline):
    model = Enrolment
    extra = 0
    autocomplete_fields = ["user"]
    # Removed from the Enrolment admin, which refuses while the learner owns resources.
    can_delete = False


class KeepsCloudResourcesAdmin(admin.ModelAdmin):
    """Deleting these rows (a cohort, an enrolment, a user) would forget cloud resources,
    not delete the cloud's copies, which would go on billing with nothing to find them by.
    Refused while any is not deleted; the bulk delete, which cannot judge each row, is
    not offered."""

    def resources_left(self, obj):
        raise NotImplementedError

    def has_delete_permission(self, request, obj=None):
        if obj is not None and self.resources_left(obj).exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and self.resources_left(obj).exists():
            # The change page says why (change_view); a bare 403 would blame a role.
            meta = self.model._meta
            return redirect(f"admin:{meta.app_label}_{meta.model_name}_change", obj.pk)
        return super().delete_view(request, object_id, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if request.method == "GET" and obj is not None:
            left = self.resources_left(obj).count()
            if left:
                self.message_user(
                    request,
                    f"{obj} still has {left} cloud resource{'s' if left != 1 else ''}: "
                    f"tear {'it' if left == 1 else 'them'} down from the cohort's dashboard "
                    "before deleting it.",
                    level=messages.WARNING,
                )
        return super().change_view(request, object_id, form_url, extra_context)


def _not_deleted(**lookup):
    from labs.models import CloudResource

    return CloudResource.objects.filter(**lookup).exclude(state=CloudResource.State.DELETED)


@admin.register(Cohort)
class CohortAdmin(KeepsCloudResourcesAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [EnrolmentInline]

    def resources_left(self, obj):
        return _not_deleted(cohort=obj)


@admin.register(Enrolment)
class EnrolmentAdmin(KeepsCloudResourcesAdmin):
    list_display = ["user", "cohort", "role", "enrolled_at"]
    list_filter = ["role", "cohort"]
    search_fields = ["user__username", "user__email", "cohort__name"]
    autocomplete_fields = ["user", "cohort"]

    def resources_left(self, obj):
        return _not_deleted(cohort=obj.cohort_id, owner=obj.user_id)


admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(KeepsCloudResourcesAdmin, UserAdmin):
    def resources_left(self, obj):
        return _not_deleted(owner=obj)
