"""Services: the only code that changes lab state. Views and tasks call these."""
