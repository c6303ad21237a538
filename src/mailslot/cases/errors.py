"""Errors of the cases domain (subclasses of the shared service errors)."""

from mailslot.errors import Forbidden, NotFound


class CaseNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("This case does not exist or you do not have access to it.")


class ItemNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("This item does not exist.")


class ChannelClosed(Forbidden):
    def __init__(self) -> None:
        super().__init__("This channel cannot receive submissions right now.")


class KeyOffline(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "Your key is kept offline, so the server cannot decrypt this. Export the case "
            "and decrypt it on your offline computer."
        )
