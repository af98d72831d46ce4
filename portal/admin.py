from django.contrib import admin

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


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ["user", "cohort", "role", "enrolled_at"]
    list_filter = ["role", "cohort"]
    search_fields = ["user__username", "user__email", "cohort__name"]
    autocomplete_fields = ["user", "cohort"]
