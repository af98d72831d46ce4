"""kombu's filesystem transport (the embedded default's broker), with messages that only
ever appear whole.

Its producer creates the message file in the queue folder, then writes into it. A worker
polling the folder can take the file in between, read nothing, and stop with
"Unrecoverable error: JSONDecodeError"; the portal then stops too (seen with two people
using one embedded portal). Here a message is written under a name the worker never
takes, then renamed into place: a rename within a folder is atomic, so the worker finds
either no file or the whole message.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# A name kombu's reader skips: it takes only "<time>_<id>.<queue>.msg".
PARTIAL_PREFIX = ".partial-"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f"{PARTIAL_PREFIX}{uuid.uuid4()}")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
