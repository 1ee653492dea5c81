"""Single-node fan-out: frames go straight to this process's connections."""
from __future__ import annotations


class LocalFanout:
    def __init__(self, deliver_local):
        # deliver_local(users, text, exclude) pushes text to every local connection of those users.
        self.deliver_local = deliver_local

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def healthy(self) -> bool:
        return True

    async def presence_edge(self, user: str, online: bool) -> bool:
        return True      # this node sees every connection

    async def online_anywhere(self, user: str) -> bool:
        return False     # no other node: the caller looks at its own connections

    def publish(self, users, text: str, exclude=None) -> None:
        self.deliver_local(users, text, exclude)

    def subscribe(self, user: str) -> None:
        pass

    def unsubscribe(self, user: str) -> None:
        pass
