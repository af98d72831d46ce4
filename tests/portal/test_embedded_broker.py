"""The embedded default's broker: a worker must never read a message half written.

kombu's own filesystem transport let a polling worker take a message file before its
producer had written it; the worker read nothing and stopped, and the portal with it."""

import sys
from queue import Empty

import pytest
from kombu import Connection

from portal.embedded_broker import Transport

QUEUE = "celery"


@pytest.fixture
def channel(tmp_path):
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "store_processed": False,
    }
    with Connection(transport=Transport, transport_options=options) as connection:
        yield connection.default_channel


def test_a_worker_polling_while_a_message_is_written_never_takes_it(channel, monkeypatch):
    polled = []
    real_open = open

    def open_then_poll(path, mode="r", *args, **kwargs):
        file = real_open(path, mode, *args, **kwargs)
        if "w" in mode:  # The producer has made its file and not written it yet.
            try:
                polled.append(channel._get(QUEUE))
            except Empty:
                polled.append("nothing yet")
        return file

    # Where the channel's _put looks up open().
    module = sys.modules[type(channel)._put.__module__]
    monkeypatch.setattr(module, "open", open_then_poll, raising=False)
    channel._put(QUEUE, {"n": 1})
    monkeypatch.undo()

    assert polled == ["nothing yet"]
    assert channel._get(QUEUE) == {"n": 1}
