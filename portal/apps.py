from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Accounts and cohorts"

    def ready(self):
        from portal import (
            converters,
            signals,  # noqa: F401  (connects the receivers)
        )

        converters.register()  # before any URLconf is read
