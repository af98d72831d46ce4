from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Accounts and cohorts"

    def ready(self):
        from portal import signals  # noqa: F401  (connects the receivers)
