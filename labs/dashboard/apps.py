from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "labs.dashboard"
    label = "dashboard"
    verbose_name = "Instructor dashboard"
