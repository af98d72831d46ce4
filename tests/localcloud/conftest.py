# Until the root conftest registers the plugin (pytest_plugins = ["tests.fixtures.localcloud"]).
from tests.fixtures.localcloud import *  # noqa: F403
