"""One localcloud: moto's server behind our gateway, the compute agent and S3 persistence."""

from __future__ import annotations

import logging
import shutil
import threading

from werkzeug.serving import BaseWSGIServer, make_server

from localcloud import moto_patches
from localcloud.agent import Agent
from localcloud.config import Settings
from localcloud.gateway import Gateway
from localcloud.notebooks import end_orphans
from localcloud.operations import SageMakerOperations
from localcloud.persistence import S3Store

logger = logging.getLogger("localcloud")


class LocalCloud:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = S3Store(settings.data_dir)
        self.agent = Agent(settings, self.store.mark_changed)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.settings.url

    def start(self) -> None:
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        # Notebook instances do not survive a restart; neither do their servers and files.
        orphans = end_orphans(data_dir / "notebooks")
        if orphans:
            logger.info("ended %d JupyterLab server(s) left by a previous run", orphans)
        shutil.rmtree(data_dir / "notebooks", ignore_errors=True)
        moto_patches.install(self.agent)
        restored = self.store.restore()
        if restored:
            logger.info("restored %d S3 objects from %s", restored, data_dir)
        self.store.start()
        gateway = Gateway(
            moto_patches.moto_wsgi_app(),
            SageMakerOperations(self.agent),
            self.store.mark_changed,
        )
        self._server = make_server(
            self.settings.host,
            self.settings.port,
            gateway,
            threaded=True,
            request_handler=moto_patches.moto_request_handler(),
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """End every process localcloud started and save S3."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self.agent.shutdown()
        self.store.close()
